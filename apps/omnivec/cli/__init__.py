"""The ``omnivec`` command line (``omnivec.cli.main``).

Before anything imports pyarrow: the command line's processes allocate pyarrow's buffers from the
system allocator, not pyarrow's default mimalloc, unless ``ARROW_DEFAULT_MEMORY_POOL`` says
otherwise. pyarrow reads the variable once, when it is imported. mimalloc keeps freed pages in a
heap per thread, and a server runs about a hundred threads: in the load soak its resident memory
grew three times as fast (:mod:`omnivec.server.memory_release`, README, Reliability).
"""

import os

os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
