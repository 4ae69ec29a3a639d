"""The reply in the generator's words, when ``SEMREC_CONVERSATION_LM_REPLY`` is on: the rule-made sentence
(``reasons.reply``) rewritten by the causal LM, kept only if it holds nothing the rule-made one does not.

The language model never decides anything: the items, filters and ``understood`` are made before it runs,
and its sentence is checked against the facts (the quoted wishes kept, no number or quoted phrase of its
own, one short line, no loop); anything else falls back to the rule-made sentence. Off by default: a 135M
model on a CPU takes seconds a reply and often adds claims ("100% customer satisfaction") the check refuses.
"""

from __future__ import annotations

import re

PROMPT = ("Rewrite this message to a shopper as one short, friendly sentence. Keep every fact and number; "
          "add nothing.\n\nMessage: {reply}")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_QUOTED = re.compile(r"'([^']+)'")


def acceptable(rewritten: str, reply: str) -> bool:
    """Whether the LM's sentence says what ``reply`` says and no more: the same numbers, the reply's quoted
    wishes and excluded words, "nothing" where nothing was found, no echo of the prompt, one line of at most
    300 characters without a loop."""
    text = rewritten.strip().strip('"')
    low = text.lower()
    if not text or "\n" in text or len(text) > 300 or "rewrite" in low or "message" in low:
        return False
    if set(_NUMBER.findall(text)) != set(_NUMBER.findall(reply)) or "%" in text:
        return False
    if reply.startswith("Nothing") and not re.search(r"\b(nothing|no|none|not)\b", low):
        return False
    without = re.search(r"without ([^.]+)", reply)
    if without and not all(w.strip() in low for w in without.group(1).split(",")):
        return False
    wanted = {q.lower() for q in _QUOTED.findall(reply)}
    if not all(q in text.lower() for q in wanted):
        return False
    words = re.findall(r"\w+", text.lower())
    return len(words) < 6 or len(set(words)) > len(words) / 2  # "no, no, no, no, ..." is a loop


def rewrite(generator, reply: str) -> tuple[str, bool]:
    """(the sentence to send, whether it is the LM's)."""
    rewritten = generator.chat(PROMPT.format(reply=reply), max_new_tokens=48)
    rewritten = rewritten.strip().strip('"')
    return (rewritten, True) if acceptable(rewritten, reply) else (reply, False)
