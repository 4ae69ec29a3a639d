"""Two threads of one fresh process loading models at once (the API's refresh thread loads the query encoder
while its embedded worker loads the review generator): both load. Before ``app.encoder.hf`` the second import
of transformers failed every time with ``cannot import name 'AutoConfig' from 'transformers'``."""

import subprocess
import sys

SCRIPT = """
import sys, threading
failures = []

def load(make):
    try:
        make()
    except Exception as error:
        failures.append(repr(error))

def encoder():
    from app.encoder.model import Encoder
    assert Encoder(device="cpu").encode(["trail shoes"]).shape[0] == 1

def generator():
    from app.generator.model import Generator
    assert isinstance(Generator(sys.argv[1], device="cpu").chat("shoes?", max_new_tokens=4), str)

threads = [threading.Thread(target=load, args=(make,)) for make in (encoder, generator)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(failures)
sys.exit(1 if failures else 0)
"""


def test_the_encoder_and_the_generator_load_side_by_side_in_a_fresh_process(tiny_gpt2):
    done = subprocess.run([sys.executable, "-c", SCRIPT, tiny_gpt2], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
