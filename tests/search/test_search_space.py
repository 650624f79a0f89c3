"""zoo search without a study: the space file, genomes, seeds, objectives, the stopping rule,
Pareto arithmetic and model config files (none of it needs Optuna)."""

from __future__ import annotations

import json

import pytest

import zoo
from zoo.complexity import macs_per_megapixel
from zoo.errors import ZooError
from zoo.modelfile import ModelFile, read_model_file, write_model_file
from zoo.search.earlystop import EarlyStop, Peer, StopCandidate
from zoo.search.genome import SEEDS, config_key, project, suggest, to_config
from zoo.search.objectives import check_validation_data, count_cost, parse_objectives
from zoo.search.pareto import front, hypervolume, knee
from zoo.search.space import POSITIONS, load_space, parse_space, shipped_space

TINY = shipped_space("tiny").read_text()  # widths 4-8, one or two blocks a group


class FirstChoice:
    """Stands in for an Optuna trial: the first choice, the low end of ranges."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def suggest_int(self, name, low, high):
        self.asked.append(name)
        return low

    def suggest_categorical(self, name, choices):
        self.asked.append(name)
        return choices[-1]


def test_default_space_holds_the_method_and_both_seeds():
    space = load_space("default")
    assert {b for u in space.units for b in u.blocks} == {"residual", "dense", "rcab"}
    assert [u.name for u in space.units] == ["down1+up3", "down2+up2", "middle"]
    for config in SEEDS.values():
        genome, why = project(space, config)
        assert genome is not None, why
        built = to_config(space, genome)
        assert built["widths"] == [32, 48, 64]
    # the seeds are the shipped demo models' architectures, to the GMAC
    demo = {"mwresnet": zoo.create_model("mwresnet", widths=(32, 48, 64), depth=2),
            "mwrcanet": zoo.create_model("mwrcanet", widths=(32, 48, 64), depth=3)}
    for name, model in demo.items():
        genome, _ = project(space, SEEDS[name])
        assert count_cost(to_config(space, genome)).gmacs == pytest.approx(macs_per_megapixel(model, 1) / 1e9)


def test_every_gene_is_suggested_every_trial():
    space = parse_space(TINY)
    names = [g.name for g in space.genes()]
    for _ in range(2):
        trial = FirstChoice()
        genome = suggest(space, trial)
        assert trial.asked == names and set(genome) == set(names)  # a fixed-length genome
    config = to_config(space, genome)
    assert config["groups"][0] == config["groups"][4]  # down1 and up3 are tied
    assert config["groups"][1] == config["groups"][3]
    assert len(config["groups"]) == len(POSITIONS)
    zoo.create_model("mwnet", **config)  # it builds
    assert config_key(config) == config_key(json.loads(json.dumps(config)))


def test_seed_projection_takes_the_nearest_choices():
    space = parse_space(TINY)
    genome, _ = project(space, SEEDS["mwrcanet"])
    assert genome["width1"] == 8 and genome["down1+up3.depth"] == 2 and genome["down1+up3.rcab.reduction"] == 4
    assert genome["down1+up3.tail"] is True and genome["act"] == "prelu"
    only_dense = parse_space(TINY.split("[groups.default.options.rcab]")[0].replace(
        'blocks = ["residual", "dense", "rcab"]', 'blocks = ["dense"]'))
    genome, why = project(only_dense, SEEDS["mwrcanet"])
    assert genome is None and "rcab" in why


def test_space_hash_ignores_comments_and_layout():
    assert parse_space(TINY).hash == parse_space("# a comment\n" + TINY.replace(" = ", "=")).hash == load_space("tiny").hash
    assert parse_space(TINY).hash != parse_space(TINY.replace("max = 2", "max = 3")).hash


@pytest.mark.parametrize("edit, message", [
    (lambda t: "foo = 1\n" + t, "unknown key 'foo'"),
    (lambda t: t.replace("widths = [[4, 8], [4, 8], [4, 8]]", "widths = [[4, 8], [4, 8]]"), "three levels"),
    (lambda t: t.replace("[[4, 8], [4, 8], [4, 8]]", "[[4, 8], [4, -8], [4, 8]]"), r"widths\[1\] must be positive"),
    (lambda t: t.replace('"residual", "dense"', '"residual", "nosuch"'), "unknown block 'nosuch'"),
    (lambda t: t.replace("{ min = 1, max = 2 }", "{ min = 3, max = 2 }"), "need 1 <= min <= max"),
    (lambda t: t.replace("{ min = 1, max = 2 }", "[1, 2]"), "must be an int or a range"),
    (lambda t: t.replace("reduction = [2, 4]", "squeeze = [2]"), "has no option 'squeeze'"),
    (lambda t: t.replace('act = ["prelu", "relu"]', 'act = ["prelu", "swishy"]'), "unknown activation 'swishy'"),
    (lambda t: t.replace('["down2", "up2"]', '["down2", "up9"]'), "unknown group 'up9'"),
    (lambda t: t + '\n[groups.up3]\nblocks = ["rcab"]\n', "up3 is tied"),
    (lambda t: t.replace("tail = [true, false]", "tail = [1, 0]"), "tail takes bool"),
    (lambda t: t.replace("growth_rate = [4, 8]", "growth_rate = [4, 4]"), "lists a choice twice"),
    (lambda t: t.split("[groups.default]")[0] + '[groups.middle]\nblocks = ["rcab"]\n', r"no \[groups.default\]"),
    (lambda t: t.replace("widths = ", "widths == "), "is not TOML"),
])
def test_bad_spaces_are_one_line_errors(edit, message):
    with pytest.raises(ZooError, match=message) as caught:
        parse_space(edit(TINY), source="tiny.toml")
    assert "\n" not in str(caught.value) and str(caught.value).startswith("tiny.toml: ")


def test_third_party_blocks_are_searchable(third_party):
    base = TINY.split("[groups.default.options.dense]")[0]
    space = parse_space(base.replace('"residual", "dense", "rcab"', '"gated", "rcab"'))
    assert space.units[0].blocks == ("gated", "rcab")
    assert "down1+up3.gated.kernel_size" not in [g.name for g in space.genes()]
    with_option = parse_space(base.replace('"residual", "dense", "rcab"', '"gated", "rcab"')
                              + "[groups.default.options.gated]\nkernel_size = [1, 3]\n")
    assert "down1+up3.gated.kernel_size" in [g.name for g in with_option.genes()]
    with pytest.raises(ZooError, match="has no option 'reduction'"):
        parse_space(base.replace('"residual", "dense", "rcab"', '"gated", "rcab"').replace(
            "[groups.default.options.rcab]", "[groups.default.options.gated]"))


def test_missing_space_file(tmp_path):
    with pytest.raises(ZooError, match="cannot read the search space"):
        load_space(tmp_path / "nope.toml")


def test_objectives_and_validation_sets():
    assert parse_objectives("psnr,gmacs,latency") == ("psnr", "gmacs", "latency")
    for bad, message in (("psnr,flops", "unknown objective"), ("gmacs,psnr", "start with psnr,gmacs"),
                         ("psnr,gmacs,params,params", "twice")):
        with pytest.raises(ZooError, match=message):
            parse_objectives(bad)
    assert check_validation_data("auto", 1) == "synthval"
    assert check_validation_data(None, 3) == "synthval-srgb"
    assert check_validation_data("pairs:/data/mine", 1) == "pairs:/data/mine"
    assert check_validation_data("crossval-raw", 1) == "crossval-raw"
    for test_set in ("synthraw", "synthsrgb", "sidd-val:/x", "siddplus-val:/x", "crossdomain-raw", "crossdomain-srgb"):
        with pytest.raises(ZooError, match="is a test set"):
            check_validation_data(test_set, 1)


def test_pareto_hypervolume_and_knee():
    points = [(30, 10), (32, 20), (33, 40), (31, 30), (29, 5)]
    maximize = (True, False)
    assert front(points, maximize) == [0, 1, 2, 4]
    # slabs over GMACs: 5-10 x 1 dB, 10-20 x 2, 20-40 x 4, 40-50 x 5
    assert hypervolume(points, (28, 50), maximize) == pytest.approx(155.0)
    assert hypervolume([(30, 10, 1), (32, 20, 2)], (28, 50, 3), (True, False, False)) == pytest.approx(220.0)
    assert hypervolume([(27, 10)], (28, 50), maximize) == 0.0  # worse than the reference
    assert knee(points, maximize) == 1
    assert knee([(30, 10)], maximize) == 0


def test_stopping_rule_stops_only_what_would_be_dominated():
    peers = [Peer(0, 2.0, 30.0, {5: 25.0, 10: 28.0, 20: 30.0}), Peer(1, 3.0, 31.0, {5: 27.0, 10: 30.0, 20: 31.0}),
             Peer(2, 1.0, 28.0, {5: 26.0, 10: 27.5, 20: 28.0})]
    rule = EarlyStop(gmacs=2.5, peers=peers, final_step=20, margin=0.1)
    # at step 5 the largest gain seen is 5 dB: 24.8 + 5 + 0.1 < 30 (peer 0, cheaper): stop
    record = rule.verdict(5, 24.8)
    assert record["dominated_by"] == 0 and record["optimistic_final"] == pytest.approx(29.9)
    assert rule.verdict(5, 25.0) is None  # 30.1 could still beat it
    assert rule.verdict(20, 10.0) is None  # the last validation is the result, never a stop
    assert EarlyStop(0.5, peers, 20).verdict(5, 10.0) is None  # cheaper than every peer: nothing dominates it
    assert EarlyStop(2.5, peers[:2], 20).verdict(5, 10.0) is None  # too few peers
    with pytest.raises(StopCandidate):
        rule.check(5, 20.0)


def test_model_config_file_is_a_model_name(tmp_path):
    config = to_config(parse_space(TINY), suggest(parse_space(TINY), FirstChoice()))
    path = write_model_file(tmp_path / "arch.json", ModelFile("arch", "mwnet", config, {"trial": 3}))
    assert read_model_file(path).provenance == {"trial": 3}
    model = zoo.create_model(str(path))
    assert model.zoo_name == "mwnet" and model.zoo_config["widths"] == config["widths"]
    srgb = zoo.create_model(path, in_channels=3)  # keywords override the file
    assert srgb.zoo_config["in_channels"] == 3
    zoo.save(model, tmp_path / "w.safetensors")
    assert zoo.load(tmp_path / "w.safetensors").zoo_config == model.zoo_config  # no file needed to load
    assert zoo.create_model(str(path), weights=tmp_path / "w.safetensors").zoo_name == "mwnet"
    (tmp_path / "bad.json").write_text('{"model": "mwnet"}')
    with pytest.raises(ZooError, match="not a zoo model config file"):
        zoo.create_model(str(tmp_path / "bad.json"))
    with pytest.raises(ZooError, match="cannot read the model config file"):
        zoo.create_model(str(tmp_path / "none.json"))
    with pytest.raises(ZooError, match="ends in .json"):
        write_model_file(tmp_path / "arch.txt", ModelFile("arch", "mwnet", config))
