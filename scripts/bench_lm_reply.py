"""The conversation reply in the generator model's words (SEMREC_CONVERSATION_LM_REPLY): how long a rewrite
takes and how often the check against the facts keeps it, over the rule-made replies of typical messages.

    python -m scripts.bench_lm_reply                 # the packaged SmolLM2-135M-Instruct, on the CPU
    python -m scripts.bench_lm_reply --model /path/to/gpt2-folder
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from app.conversation import phrasing, reasons
from app.conversation.needs import Needs, apply
from app.generator import Generator

ROOT = Path(__file__).resolve().parents[1]

MESSAGES = ["running shoes under $100", "a comedy and romance movie from the 1990s", "no books, under 30 dollars",
            "actually a gift for my dad who loves fishing", "kitchen knives between 20 and 50, not ceramic",
            "something for a rainy weekend", "a birthday gift card", "trail shoes over $60 without leather",
            "a thriller from the 1980s", "tea, no sugar"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="")
    args = p.parse_args()
    start = time.perf_counter()
    generator = Generator(args.model, device="cpu")
    print(f"loaded {generator.name} in {time.perf_counter() - start:.1f} s")
    seconds, kept = [], 0
    for n, text in enumerate(MESSAGES):
        needs = Needs()
        apply(needs, text, [{"item_id": "x", "signal": "dislike"}] if n % 3 == 0 else [], ["shoes", "books"])
        reply = reasons.reply(needs, 10 if n % 4 else 0, True)
        start = time.perf_counter()
        sent, by_lm = phrasing.rewrite(generator, reply)
        seconds.append(time.perf_counter() - start)
        kept += by_lm
        print(f"  {seconds[-1]:5.2f} s  {'LM   ' if by_lm else 'facts'}  {sent!r}", flush=True)
    s = np.array(seconds)
    print(f"\n{len(s)} replies: p50 {np.percentile(s, 50):.2f} s, max {s.max():.2f} s; the LM's words kept for "
          f"{kept} of {len(s)} (the rest failed the check and went out as the rule-made sentence)")


if __name__ == "__main__":
    main()
