"""ImageNet-21K at once: named class sets, the compact synset embeddings, memory-lean steps, synset paths."""
import random

import pytest
import torch
import torch.nn.functional as F

from inject.errors import InjectError
from inject.knowledge import hierarchy_descriptors, load_wordnet
from inject.knowledge.sets import NAMED_SETS, imagenet21k_wnids, named_set
from inject.names import class_lines, is_named_set

PANDA, ZEBRA, TENCH, OKAPI = "n02510455", "n02391049", "n01440764", "n02439398"


def test_the_compact_hierarchy_is_exact_against_the_seen_rows(monkeypatch):
    """Above DENSE_LIMIT the columns are the seen ancestors + a rest column: seen rows and every
    new-to-seen cosine are those of the dense descriptors, rows stay unit-norm."""
    from inject.knowledge import hierarchy

    wnids = [TENCH, "n02113186", "n02114367", "n02123045", ZEBRA, PANDA, "n02058747", None, "n12268246"]
    dense, resolved = hierarchy_descriptors(wnids, seen=4)
    monkeypatch.setattr(hierarchy, "DENSE_LIMIT", 0)
    compact, resolved_too = hierarchy_descriptors(wnids, seen=4)
    assert compact.shape[1] < dense.shape[1] and torch.equal(resolved, resolved_too)
    torch.testing.assert_close(compact @ compact[:4].T, dense @ dense[:4].T, atol=1e-6, rtol=0)
    torch.testing.assert_close(compact.norm(dim=1), resolved.float(), atol=1e-6, rtol=0)


def test_conse_gathers_neighbours_in_chunks_with_the_same_rows(monkeypatch):
    from inject.mappers import conse

    similarity, rows = torch.randn(10, 7), torch.randn(7, 5)
    whole = conse.neighbour_mean(similarity, rows, 3, 2.0)
    monkeypatch.setattr(conse, "CHUNK", 3)
    torch.testing.assert_close(conse.neighbour_mean(similarity, rows, 3, 2.0), whole)


@pytest.mark.slow
def test_imagenet21k_is_timms_table_less_the_model_classes():
    lines = class_lines("imagenet21k")
    assert len(imagenet21k_wnids()) == 21843
    assert len(lines) == 21843 - 999  # ImageNet-21K holds 999 of the 1000 ImageNet-1K synsets
    assert f"okapi ({OKAPI})" in lines and not any(TENCH in line or PANDA in line for line in lines)
    assert len(class_lines("imagenet21k", ["tench", "zebra"])) == 21843 - 2


def test_a_named_set_never_shadows_a_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert is_named_set("2-hops") and not is_named_set("okapi.txt")
    (tmp_path / "2-hops").write_text("okapi\n")
    assert not is_named_set("2-hops") and class_lines("2-hops") == ["okapi"]


def test_a_dgp_split_without_the_data_folder_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("INJECT_DATA", str(tmp_path))
    with pytest.raises(InjectError, match="2-hops.txt' does not exist; set INJECT_DATA") as error:
        class_lines("2-hops")
    assert "\n" not in str(error.value)
    with pytest.raises(InjectError, match="unknown class set"):
        named_set("4-hops")


def test_the_dgp_splits_read_from_the_data_folder(data, monkeypatch):
    monkeypatch.setenv("INJECT_DATA", str(data))
    assert [len(class_lines(name)) for name in NAMED_SETS[1:]] == [1549, 7860, 20846]


def test_the_cli_reports_a_missing_split_in_one_line(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from inject.cli import main

    monkeypatch.setenv("INJECT_DATA", str(tmp_path))
    result = CliRunner().invoke(main, [str(tmp_path / "m.safetensors"), "--classes", "3-hops", "-o", str(tmp_path / "o.safetensors")])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1 and "3-hops.txt' does not exist" in result.stderr


def test_a_synset_line_encodes_its_name_part_or_first_lemma():
    from inject.knowledge import resolve_names
    from inject.knowledge.describe import gloss_text, name_text

    bare, named, plain = resolve_names([PANDA, f"giant panda ({PANDA})", "zebra"])
    assert name_text(bare) == name_text(named) == "giant panda" and name_text(plain) == "zebra"
    assert gloss_text(bare) == gloss_text(named)


def test_int8_rows_keep_cosine_and_are_found_by_text():
    from inject.packed import PackedEmbeddings, quantize, text_key

    vectors = F.normalize(torch.randn(50, 384), dim=1)
    rows, scales = quantize(vectors)
    restored = F.normalize(rows.float() * scales[:, None], dim=1)
    assert float((restored * vectors).sum(1).min()) > 0.9999
    texts = [f"text {i}" for i in range(50)]
    packed = PackedEmbeddings(torch.tensor([text_key("text", t) for t in texts]), rows, scales, [])
    found = packed.find("text", ["text 7", "missing", "text 3"])
    assert list(found) == ["text 7", "text 3"]
    torch.testing.assert_close(found["text 3"], restored[3])
    assert packed.find("name", ["text 7"]) == {}


def test_the_packaged_synset_file_is_small_and_matches_the_templates():
    from inject.assets import DEFAULT_ENCODER_NAME
    from inject.packed import load_packed, packed_path
    from inject.semantics import TEMPLATES

    path = packed_path(DEFAULT_ENCODER_NAME)
    if not path.is_file():
        pytest.fail(f"{path} is missing: run scripts/build_synset_embeddings.py")
    assert path.stat().st_size < 35e6
    packed = load_packed(DEFAULT_ENCODER_NAME)
    assert packed.templates == list(TEMPLATES) and packed.rows.dtype == torch.int8
    assert len(packed.keys) >= 2 * 20000


def test_hierarchical_topk_gives_the_synset_path_of_each_prediction():
    from inject.knowledge.paths import hierarchical_topk, synset_path

    path = synset_path(PANDA)
    assert path[0] == "n00001740" and path[-1] == PANDA
    assert all(parent in load_wordnet().hypernyms(child) for parent, child in zip(path, path[1:]))
    labels = ["tench", f"giant panda ({PANDA})", "flibbertigibbet zorp"]
    top = hierarchical_topk(torch.tensor([[0.1, 2.0, 0.5]]), labels, k=2)
    assert [e["label"] for e in top[0]] == [labels[1], labels[2]]
    assert top[0][0]["wnid"] == PANDA and top[0][0]["path"][0] == "entity" and top[0][0]["path"][-1] == "giant panda"
    assert top[0][1]["wnid"] is None and top[0][1]["path"] == []


@pytest.mark.slow
def test_packaged_synset_vectors_match_fresh_encoding_and_give_the_same_descriptors(real_encoder, monkeypatch, tmp_path):
    """A seeded sample of 40 synsets: every looked-up name ensemble and gloss vector is within cosine
    0.9999 of a fresh encoding (int8: 0.99995 at worst on 300 synsets), and so are the combined descriptors."""
    from inject.assets import imagenet_class_names
    from inject.knowledge.classes import known_class_descriptors
    from inject.knowledge.describe import gloss_text, name_text
    from inject import packed
    from inject.knowledge import resolve_names
    from inject.semantics import TEMPLATES

    wnids = random.Random(0).sample(imagenet21k_wnids(), 40)
    resolutions = resolve_names(wnids)
    names, glosses = [name_text(r) for r in resolutions], [gloss_text(r) for r in resolutions]
    looked_names = packed.packed_vectors(real_encoder.name, "name", names, TEMPLATES)
    looked_texts = packed.packed_vectors(real_encoder.name, "text", glosses)
    assert len(looked_names) == len(set(names)) and len(looked_texts) == len(set(glosses))
    fresh = real_encoder.encode([t.format(n) for n in names for t in TEMPLATES])
    fresh_names = F.normalize(fresh.reshape(len(names), len(TEMPLATES), -1).mean(1), dim=1)
    fresh_glosses = real_encoder.encode(glosses)
    assert min(float(looked_names[n] @ v) for n, v in zip(names, fresh_names)) > 0.9999
    assert min(float(looked_texts[g] @ v) for g, v in zip(glosses, fresh_glosses)) > 0.9999
    seen, rows = list(imagenet_class_names()), torch.randn(1000, 9, generator=torch.Generator().manual_seed(0))
    monkeypatch.setenv("INJECT_CACHE_DIR", str(tmp_path / "packed"))
    with_package = known_class_descriptors(seen, wnids, rows, real_encoder)
    monkeypatch.setenv("INJECT_CACHE_DIR", str(tmp_path / "fresh"))
    monkeypatch.setattr(packed, "load_packed", lambda name: None)
    without = known_class_descriptors(seen, wnids, rows, real_encoder)
    assert with_package.weights == without.weights
    assert float((with_package.new * without.new).sum(1).min()) > 0.9999


@pytest.mark.slow
def test_the_packaged_synset_file_covers_every_imagenet21k_text_of_the_default_path():
    """scripts/build_synset_embeddings.py is current: every 21K synset's name ensemble and gloss text is found."""
    from inject.assets import DEFAULT_ENCODER_NAME
    from inject.knowledge import resolve_names
    from inject.knowledge.describe import gloss_text, name_text
    from inject.packed import packed_vectors
    from inject.semantics import TEMPLATES

    resolutions = resolve_names(imagenet21k_wnids())
    names, glosses = {name_text(r) for r in resolutions}, {gloss_text(r) for r in resolutions}
    assert len(packed_vectors(DEFAULT_ENCODER_NAME, "name", sorted(names), TEMPLATES)) == len(names)
    assert len(packed_vectors(DEFAULT_ENCODER_NAME, "text", sorted(glosses))) == len(glosses)
