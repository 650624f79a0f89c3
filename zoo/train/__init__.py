"""Training: the trainer (`zoo train`) and the four-step distillation recipe (`zoo distill`)."""
