import pytest

from app.encoder.model import Encoder


@pytest.fixture(scope="session")
def tiny_gpt2(tmp_path_factory) -> str:
    """A 2-layer GPT-2 with a byte-level BPE tokenizer trained here, saved and loaded by folder path."""
    import torch
    from tokenizers import ByteLevelBPETokenizer
    from transformers import GPT2Config, GPT2LMHeadModel, GPT2TokenizerFast

    folder = tmp_path_factory.mktemp("tiny-gpt2")
    corpus = [
        "trail running shoes with a grippy sole", "sneakers for jogging on mountain paths",
        "espresso machine with a milk frother", "waterproof hiking jacket", "a gift card for any occasion",
    ] * 20
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(corpus, vocab_size=300, min_frequency=1, special_tokens=["<|endoftext|>"])
    tokenizer = GPT2TokenizerFast(tokenizer_object=bpe, bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                                  unk_token="<|endoftext|>")
    tokenizer.save_pretrained(folder)
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=64, n_embd=32, n_layer=2, n_head=2,
                        bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id)
    GPT2LMHeadModel(config).save_pretrained(folder)  # with an LM head: the encoder must not use it
    return str(folder)


@pytest.fixture(scope="session")
def packaged_encoder() -> Encoder:
    return Encoder(device="cpu")
