"""The ``omnivec`` command line (``omnivec.cli.main``).

Before anything imports pyarrow, the command line's processes choose the system allocator for
pyarrow's buffers instead of pyarrow's default, mimalloc, unless ``ARROW_DEFAULT_MEMORY_POOL``
names a pool: pyarrow reads the variable once, when it is imported, and in the load soak a server
on mimalloc grew three times as fast (:mod:`omnivec.server.memory_release`, README, Reliability).
"""

from omnivec.server.memory_release import prefer_system_arrow_pool

prefer_system_arrow_pool()
