"""Which new classes will work: the per-class estimate, the warnings and where they show (inject.trust)."""
import json

import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner

import inject
from helpers import EVERYDAY, small_model
from inject.checkpoint import read_metadata
from inject.cli import main
from inject.knowledge.describe import describe_classes
from inject.trust.estimate import estimate_classes
from inject.trust.rehearsal import hidden_sets, photo_model, photo_top1
from inject.trust.relation import fit_relation
from inject.trust.signals import SIGNALS

SEEN = EVERYDAY


@pytest.fixture
def model():
    return small_model("resnet18", SEEN)


def structured_head(count: int = 80, width: int = 24, dim: int = 16, seed: int = 0):
    """A head whose rows follow its descriptors (rows = descriptors @ map + noise), so predicting rows works."""
    generator = torch.Generator().manual_seed(seed)
    descriptors = F.normalize(torch.randn(count, dim, generator=generator), dim=1)
    mapping = torch.randn(dim, width, generator=generator)
    weight = descriptors @ mapping + 0.3 * torch.randn(count, width, generator=generator)
    rows = torch.cat([weight, 0.1 * torch.randn(count, 1, generator=generator)], dim=1)
    return descriptors, rows, mapping


def estimate_for(new_descriptors, descriptors, rows, mapping):
    weight = new_descriptors @ mapping
    photos = photo_model(rows[:, :-1], rows[:, -1])
    return estimate_classes(descriptors, rows, new_descriptors, weight, torch.zeros(len(weight)), 0.0, 2.0, photos)


def test_two_names_with_one_row_cannot_both_be_expected_to_work():
    descriptors, rows, mapping = structured_head()
    generator = torch.Generator().manual_seed(1)
    alone = F.normalize(torch.randn(4, descriptors.shape[1], generator=generator), dim=1)
    twinned = torch.cat([alone[:1], alone[:1], alone[2:]])  # the second class now has the first one's row
    apart, together = estimate_for(alone, descriptors, rows, mapping), estimate_for(twinned, descriptors, rows, mapping)
    assert together.expected_top1[0] < apart.expected_top1[0]
    assert together.expected_top1[0] == pytest.approx(float(together.expected_top1[1]))
    assert together.near_chance[0] > apart.near_chance[0]
    assert set(SIGNALS) >= {"nearest_new_row", "crowding"} and together.signals.shape == (4, len(SIGNALS))


def test_the_estimate_is_a_probability_per_class_and_one_class_is_always_top1_among_one():
    descriptors, rows, mapping = structured_head()
    found = estimate_for(F.normalize(torch.randn(6, descriptors.shape[1]), dim=1), descriptors, rows, mapping)
    for values in (found.expected_top1, found.expected_recognised, found.near_chance):
        assert values.shape == (6,) and bool(((values >= 0) & (values <= 1)).all())
    single = estimate_for(descriptors[:1] + 0.05, descriptors, rows, mapping)
    assert float(single.expected_top1[0]) == 1.0 and float(single.near_chance[0]) == 0.0 and single.chance == 1.0


def test_rehearsal_sets_take_turns_random_and_clustered_and_ties_split():
    descriptors, rows, _ = structured_head()
    sets = hidden_sets(80, 10, (descriptors, rows[:, :-1]), total=60)
    assert len(sets) == 6 and all(len(s) == 10 and len(set(s.tolist())) == 10 for s in sets)
    anchor_set = sets[1]  # an anchor's ten nearest by descriptor: mutually closer than a random ten
    unit = F.normalize(descriptors, dim=1)
    assert (unit[anchor_set] @ unit[anchor_set].T).mean() > (unit[sets[0]] @ unit[sets[0]].T).mean()
    shares = photo_top1(torch.tensor([[1.0, 1.0], [2.0, 0.0], [2.0, 0.0], [0.0, 3.0]]), 2, torch.tensor([0, 1]))
    assert shares.tolist() == [0.75, 0.5]  # a tie splits its photo; the others go to their best column


def test_the_relation_recovers_a_logistic_link_and_stays_finite_when_all_outcomes_agree():
    generator = torch.Generator().manual_seed(0)
    signals = torch.randn(2000, 2, generator=generator)
    outcome = torch.sigmoid(2 * signals[:, 0] - signals[:, 1])
    relation = fit_relation(signals, outcome)
    assert torch.allclose(relation(signals), outcome, atol=0.03)
    assert bool(torch.isfinite(fit_relation(signals, torch.ones(2000))(signals)).all())


def test_the_record_carries_per_class_estimates_beside_the_synsets(model, fake_encoder):
    extended = inject.inject(model, ["okapi", "Crested Auklet", "quagga"], gamma=0.0)
    record = extended.pretrained_cfg["inject"]
    assert set(record["classes"]) == {"okapi", "Crested Auklet", "quagga"}
    okapi = record["classes"]["okapi"]
    assert okapi["synset"] == "n02439398" and okapi["how"] == "exact"
    assert set(okapi) == {"synset", "how", "expected_top1", "expected_recognised", "near_chance"}
    assert all(0 <= okapi[key] <= 1 for key in ("expected_top1", "expected_recognised", "near_chance"))
    assert record["trust"]["chance"] == pytest.approx(1 / 3) and isinstance(record["warnings"], list)


def test_a_name_taken_as_one_particular_person_is_warned_about_in_the_api(model, fake_encoder):
    with pytest.warns(UserWarning, match="'Garfield': taken as 'Garfield'.*20th President"):
        extended = inject.inject(model, ["Garfield", "okapi"], gamma=0.0)
    warned = extended.pretrained_cfg["inject"]["warnings"]
    assert [w["kind"] for w in warned if w["class"] == "Garfield"] == ["instance"]
    assert warned[0]["remedy"] and warned[0]["message"].count("\n") == 0  # one line each, with a remedy


def test_cli_warnings_go_to_stderr_and_quiet_silences_them(model, fake_encoder, tmp_path):
    source, classes = tmp_path / "model.safetensors", tmp_path / "new.txt"
    inject.save_model(model, source)
    classes.write_text("Garfield\nokapi\n")
    args = [str(source), "--classes", str(classes), "-o", str(tmp_path / "o.safetensors"), "--gamma", "0"]
    loud = CliRunner().invoke(main, args)
    assert loud.exit_code == 0, loud.output
    assert "inject-classes: warning: 'Garfield': taken as 'Garfield'" in loud.stderr
    assert "expected top-1 among the 2 new classes" in loud.stdout and "weakest:" in loud.stdout
    quiet = CliRunner().invoke(main, [*args, "--quiet", "--explain", "--force"])
    assert quiet.exit_code == 0 and "warning" not in quiet.stderr
    assert "| expected top-1 " in quiet.stdout.splitlines()[0]  # --explain shows the estimate
    record = json.loads(read_metadata(tmp_path / "o.safetensors")["inject"])
    assert record["warnings"][0]["class"] == "Garfield"


def test_descriptions_join_the_gloss_as_one_text_and_leave_the_name_row_alone(fake_encoder):
    plain = describe_classes(SEEN, ["okapi"], fake_encoder)
    once = describe_classes(SEEN, ["okapi"], fake_encoder, {"okapi": ["a forest giraffe with striped legs"]})
    twice = describe_classes(SEEN, ["okapi"], fake_encoder, {"okapi": ["a forest giraffe with striped legs"] * 2})
    assert torch.equal(plain.new["name"], once.new["name"])  # new name rows stay names, like the seen ones
    assert not torch.allclose(plain.new["gloss"], once.new["gloss"])
    assert torch.allclose(once.new["gloss"], twice.new["gloss"], atol=1e-6)  # lines together weigh as one text


@pytest.mark.real
def test_a_head_noun_sense_the_description_contradicts_is_set_aside(real_encoder):
    from inject import assets

    described = describe_classes(assets.imagenet_class_names(), ["chocolate lab", "Crested Auklet"], real_encoder,
                                 {"chocolate lab": ["a brown Labrador retriever dog"]})
    lab, auklet = described.new_resolutions
    assert lab.how == "text only" and lab.wnid is None and lab.rejected == "n03629986"  # not the laboratory
    assert auklet.how == "head noun" and auklet.wnid == "n02045596"


def test_nearest_others_within_groups_agrees_with_all_pairs_where_twins_share_a_group():
    from inject.trust.signals import nearest_others

    generator = torch.Generator().manual_seed(0)
    centres = F.normalize(torch.randn(5, 32, generator=generator), dim=1)
    unit = F.normalize(centres.repeat_interleave(4, 0) + 0.05 * torch.randn(20, 32, generator=generator), dim=1)
    everything, grouped = nearest_others(unit), nearest_others(unit, torch.arange(5).repeat_interleave(4))
    assert torch.equal(everything.nearest, grouped.nearest) and torch.allclose(everything.cosine, grouped.cosine)
    alone = nearest_others(unit[:1])
    assert int(alone.nearest[0]) == -1 and float(alone.cosine[0]) == 0.0
    groups = torch.arange(5).repeat_interleave(4)
    groups[-1] = 9  # the last row alone; its old group keeps three rows
    split = nearest_others(unit, groups)
    assert int(split.nearest[-1]) == -1 and float(split.crowding[-1]) == 0.0
    others = (unit[16:19] @ unit[16:19].T).fill_diagonal_(0).sum(1) / 2  # two others each, both counted
    assert torch.allclose(split.crowding[16:19], others, atol=1e-6)


def test_at_most_a_screenful_of_warnings_is_shown_and_the_record_keeps_them_all():
    from inject.trust.warnings import shown_lines

    found = [{"message": f"'class {i}': no seen class is near: expect chance"} for i in range(30)]
    lines = shown_lines(found, limit=25)
    assert len(lines) == 26 and lines[-1] == "... and 5 more in the output record's 'warnings'"
    assert shown_lines(found[:3]) == [item["message"] for item in found[:3]]


def test_with_photos_the_held_out_top1_stands_beside_the_estimate(tmp_path, fake_encoder):
    from helpers import noise_folders

    folder = noise_folders(tmp_path, ["okapi", "quokka"], per_class=3)
    extended = inject.inject(small_model(), ["okapi", "quokka", "axolotl"], images=folder)
    record = extended.pretrained_cfg["inject"]
    for name in ("okapi", "quokka"):
        assert record["classes"][name]["held_out_top1"] == record["photos"]["per_class"][name]["held_out_top1"]
        assert 0 <= record["classes"][name]["expected_top1"] <= 1
    assert "held_out_top1" not in record["classes"]["axolotl"]  # no photos: the estimate alone


@pytest.mark.real
def test_on_the_demo_model_twins_cannot_both_work_and_head_noun_collapses_are_warned(real_encoder):
    from inject.assets import load_demo_model

    names = ["okapi", "Crested Auklet", "Least Auklet", "Parakeet Auklet", "American Goldfinch", "European Goldfinch",
             "quokka", "Garfield"]
    with pytest.warns(UserWarning):
        record = inject.inject(load_demo_model(), names).pretrained_cfg["inject"]
    classes, warned = record["classes"], {w["class"]: w for w in record["warnings"]}
    goldfinches = [classes[n]["expected_top1"] for n in ("American Goldfinch", "European Goldfinch")]
    assert min(goldfinches) < 0.5 and sum(goldfinches) < 1.2  # one synset, one row: not both
    assert classes["okapi"]["expected_top1"] > classes["Least Auklet"]["expected_top1"]
    assert "head noun 'auklet', like '" in warned["Least Auklet"]["message"]
    assert warned["Garfield"]["kind"] == "instance" and "okapi" not in warned
