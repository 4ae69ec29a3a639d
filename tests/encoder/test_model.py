import numpy as np

from app.encoder.model import PACKAGED_MODEL, Encoder


def test_gpt2_path_pools_hidden_states_not_logits(tiny_gpt2):
    enc = Encoder(tiny_gpt2, device="cpu")
    assert enc.family == "causal" and enc.tokenizer.pad_token == "<|endoftext|>"
    vectors = enc.encode(["trail running shoes", "espresso machine"])
    assert vectors.shape == (2, 32)  # n_embd, not the vocabulary size of the LM head
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)
    assert not np.allclose(vectors[0], vectors[1])


def test_gpt2_vector_same_alone_and_in_a_padded_batch(tiny_gpt2):
    enc = Encoder(tiny_gpt2, device="cpu", batch_size=8)
    short = "gift card"
    batch = [short, "waterproof hiking jacket for mountain paths in the rain and snow", "espresso machine"]
    alone = enc.encode([short])[0]
    together = enc.encode(batch)[0]
    lengths = [len(enc.tokenizer(t)["input_ids"]) for t in batch]
    assert lengths[0] < max(lengths)  # so the short text really was padded
    np.testing.assert_allclose(alone, together, atol=1e-5)


def test_truncation_at_token_limit(tiny_gpt2):
    enc = Encoder(tiny_gpt2, device="cpu", max_tokens=16)
    long_text = "trail running shoes " * 200  # far beyond the 64 positions of the model
    first_16 = enc.tokenizer.decode(enc.tokenizer(long_text)["input_ids"][:16])
    np.testing.assert_allclose(enc.encode([long_text])[0], enc.encode([first_16])[0], atol=1e-5)


def test_default_model_understands_products(packaged_encoder):
    assert packaged_encoder.name == PACKAGED_MODEL and packaged_encoder.family == "encoder"
    shoes, sneakers, espresso = packaged_encoder.encode(
        ["trail running shoes", "sneakers for jogging on mountain paths", "espresso machine"])
    assert shoes @ sneakers > shoes @ espresso + 0.2
    assert packaged_encoder.dim == 384


def test_order_of_texts_is_kept(packaged_encoder):
    texts = ["a much longer text about waterproof hiking jackets for the rain", "mug", "espresso machine"]
    together = packaged_encoder.encode(texts)
    for i, text in enumerate(texts):
        np.testing.assert_allclose(together[i], packaged_encoder.encode([text])[0], atol=1e-5)


def test_packaged_model_runs_as_a_graph_with_the_eager_model_s_vectors(packaged_encoder):
    """The traced graph must hold for shapes it was not traced on: one text, a padded batch, the token limit."""
    assert packaged_encoder._graph is not None
    texts = ["mug", "waterproof hiking jacket for mountain paths in the rain and snow", "word " * 400]
    eager = Encoder(device="cpu")
    eager._graph = None
    for batch in ([texts[0]], texts, [texts[2]]):
        np.testing.assert_allclose(packaged_encoder.encode(batch), eager.encode(batch), atol=1e-5)


def test_a_causal_lm_runs_eager(tiny_gpt2):
    assert Encoder(tiny_gpt2, device="cpu")._graph is None
