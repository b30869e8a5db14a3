"""Test support: what the test groups share, imported as ``tests.support.<module>``.

    paths        REPO, SAMPLES, FIXTURES, SPEECH, the tiny CLIP architecture, OMNIVEC_BIN
    processes    run_cli (console script), invoke_cli (in process), ServerProcess (a real
                 `omnivec serve`, its log in a file), serve_process, unshare_available
    media_factory  files of every bad (and good) media kind, made on the fly
    reliability  bounds, figures, server environments and in-process servers of the reliability suite
    async_adapter  drives the real AsyncClient from synchronous test code (one event loop)
    topics       short labelled sentences in six topics, for probe tests
    certificates a CA, server and client certificates for the TLS tests

pytest's rootdir-relative imports (``tests`` is a package) make these importable without any
``sys.path`` edits.
"""
