"""The transformers classes semrec loads models with, imported here and nowhere else, and one lock for loading.

transformers 5 resolves its names lazily, a submodule at a time. Two threads resolving different names for the
first time (the API's refresh thread loading the query encoder while the embedded worker imports the review
generator) each wait for a submodule the other is importing, and Python breaks that cycle by handing one of
them a half-made module: ``cannot import name 'AutoConfig' from 'transformers'``. Importing every class in this
one module makes that first resolution one thread's work (the others wait on this module's import lock), and
``LOADING`` does the same for the model classes ``from_pretrained`` resolves while it loads.
"""

import threading

from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, AutoTokenizer

LOADING = threading.Lock()  # held while a model loads: loads are rare, and two at once only share the cores

__all__ = ["LOADING", "AutoConfig", "AutoModel", "AutoModelForCausalLM", "AutoTokenizer"]
