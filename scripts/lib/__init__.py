"""The library behind the scripts and the end-to-end tests: ``service`` (fresh stores, the API and worker
processes, the fresh service the evaluation protocols speak to, memory, a trained model through the API),
``stores`` (stores with a served version, made fast), ``load`` (wrk), ``protocols`` (splits, cut-offs and
carves of the shared protocols)."""
