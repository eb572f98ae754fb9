"""The packaged WordNet 3.0 nouns, the class-name resolver and the hierarchy descriptors (no model, no encoder)."""
import pytest
import torch
from timm.data import ImageNetInfo

from inject.assets import imagenet_class_names
from inject.errors import InjectError
from inject.knowledge import hierarchy_descriptors, hierarchy_similarity, load_wordnet, resolve_names

ZEBRA, DOG, CARDIGAN_CORGI, CARDIGAN_SWEATER = "n02391049", "n02084071", "n02113186", "n02963159"
PEMBROKE, TIMBER_WOLF, TABBY, STATION_WAGON = "n02113023", "n02114367", "n02123045", "n02814533"
CRANE_BIRD, CRANE_MACHINE = "n02012849", "n03126707"


def test_data_loads_as_wordnet_3_0():
    wn = load_wordnet()
    assert len(wn) == 82115
    assert wn.lemmas(ZEBRA) == ("zebra",)
    assert "striped" in wn.gloss(ZEBRA)
    assert wn.lemmas("n01440764")[0] == "tench" and wn.lemmas("n02058221")[0] == "albatross"
    assert ZEBRA in wn and "n99999999" not in wn
    with pytest.raises(InjectError, match="not a WordNet 3.0 noun"):
        wn.gloss("n99999999")


def test_ancestors_and_hypernyms():
    wn = load_wordnet()
    ancestors = wn.ancestors(CARDIGAN_CORGI)
    assert ancestors[CARDIGAN_CORGI] == 0
    assert ancestors[DOG] == 2  # Cardigan -> corgi -> dog
    assert ancestors["n00001740"] == max(ancestors.values())  # entity, the root
    assert set(wn.hypernyms(CARDIGAN_CORGI)) == {h for h, d in ancestors.items() if d == 1}
    assert wn.hypernyms("n10923313") == ("n10346514",)  # Charles Darwin is an instance of naturalist (@i)


def test_senses_fold_case_and_separators():
    wn = load_wordnet()
    assert wn.senses("Black_footed-Albatross") == wn.senses("black-footed albatross") == ["n02058747"]
    assert wn.senses("crane")[-2:] == [CRANE_MACHINE, CRANE_BIRD]  # sense-rank order
    assert wn.senses("no such thing") == []


def test_every_imagenet_label_resolves_to_its_own_wnid():
    names, wnids = imagenet_class_names(), list(ImageNetInfo().label_names())
    resolved = resolve_names(names, context=wnids)
    assert [r.wnid for r in resolved] == wnids
    assert {r.how for r in resolved} == {"exact"}
    # without context the commonest sense wins, which is right for most labels, not all (hen, kite, ...)
    assert sum(r.wnid == w for r, w in zip(resolve_names(names), wnids)) > 800


def test_case_tells_the_corgi_from_the_sweater():
    corgi, sweater = resolve_names(["Cardigan", "cardigan"])
    assert (corgi.wnid, sweater.wnid) == (CARDIGAN_CORGI, CARDIGAN_SWEATER)
    assert corgi.how == sweater.how == "exact"
    assert corgi.alternatives == (CARDIGAN_SWEATER,)


def test_context_picks_the_nearest_sense():
    birds = ["n02058221", "n01855672", "n02007558"]  # albatross, goose, flamingo
    machines = ["n03384352", "n04465501"]  # forklift, tractor
    assert resolve_names(["crane"], context=birds)[0].wnid == CRANE_BIRD
    assert resolve_names(["crane"], context=machines)[0].wnid == CRANE_MACHINE
    assert resolve_names(["crane (large long-necked wading bird)"])[0].wnid == CRANE_BIRD
    no_context = resolve_names(["crane"])[0]
    assert no_context.wnid == CRANE_MACHINE and CRANE_BIRD in no_context.alternatives


@pytest.mark.parametrize("name, lemma, how", [
    ("Crested Auklet", "auklet", "head noun"),
    ("pink primrose", "primrose", "head noun"),
    ("Black footed Albatross", "black-footed albatross", "normalised"),
    ("Brewer Spruce", "Brewer's spruce", "normalised"),
    ("colt's foot", "coltsfoot", "normalised"),
    ("Canada geese", "Canada goose", "normalised"),
    ("Sweet Peas", "sweet pea", "normalised"),
])
def test_normalised_spellings_and_head_nouns(name, lemma, how):
    resolution = resolve_names([name])[0]
    assert lemma in resolution.lemmas and resolution.how == how


def test_wnid_syntax_and_unknown_names():
    by_id, named, unknown_id, unknown = resolve_names(["n02391049", "stripy horse (n02391049)", "n00000001", "blorfle"])
    assert by_id.wnid == named.wnid == ZEBRA and by_id.how == named.how == "wnid"
    assert named.name == "stripy horse (n02391049)" and named.lemmas == ("zebra",)
    assert (unknown_id.wnid, unknown_id.how) == (None, "none")
    assert (unknown.wnid, unknown.how, unknown.gloss, unknown.alternatives) == (None, "none", "", ())


def test_bad_inputs_raise_one_clear_error():
    with pytest.raises(InjectError, match="context entry 'n00000001'"):
        resolve_names(["crane"], context=["n00000001"])
    with pytest.raises(InjectError, match="class name #2 is a int"):
        resolve_names(["crane", 3])
    with pytest.raises(InjectError, match="decay"):
        hierarchy_descriptors([ZEBRA], decay=0)
    with pytest.raises(InjectError, match="synset #2 'zebra'"):
        hierarchy_descriptors([ZEBRA, "zebra"])


def test_hierarchy_descriptors_rank_siblings_over_cousins_over_unrelated():
    wnids = [CARDIGAN_CORGI, PEMBROKE, TIMBER_WOLF, STATION_WAGON, None]
    descriptors, resolved = hierarchy_descriptors(wnids)
    assert descriptors.dtype == torch.float32 and descriptors.shape[0] == 5
    assert resolved.tolist() == [True, True, True, True, False]
    assert torch.allclose(descriptors[:4].norm(dim=1), torch.ones(4)) and not descriptors[4].any()
    cosine = descriptors @ descriptors.T
    sibling, cousin, unrelated = cosine[0, 1], cosine[0, 2], cosine[0, 3]
    assert sibling > 0.4 and sibling > 2 * cousin and cousin > 10 * unrelated and unrelated < 0.01


def test_hierarchy_similarity_is_the_cosine_of_joint_descriptors():
    new, seen = [CARDIGAN_CORGI, None], [PEMBROKE, TABBY, STATION_WAGON]
    similarity = hierarchy_similarity(new, seen)
    descriptors, _ = hierarchy_descriptors(new + seen)
    assert similarity.shape == (2, 3)
    assert torch.allclose(similarity, descriptors[:2] @ descriptors[2:].T)
    assert similarity[0].argmax() == 0 and not similarity[1].any()
