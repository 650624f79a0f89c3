"""The package version, in a module of its own: any layer may name it without importing the
package root (which imports most of zoo)."""

__version__ = "0.1.0"
