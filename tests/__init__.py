"""The omnivec test suite, grouped by the layer under test.

    engine/       the embedded engine (store, ANN, encoders, ingest, search, probes), in process
    server/       the gRPC server end to end with the real SDK
    client/       the Python SDK (sync and async) and the Node example
    cli/          the command line, locally and against a server (congruence)
    reliability/  fault injection, load, fuzzing, recovery (OMNIVEC_RELIABILITY=long for more)
    packaging/    the built wheels, installed into a fresh venv on their own
    support/      helpers every group imports (paths, processes, media factory); not a test group
"""
