"""lancedb imported without building its REST client's validators, which still validate on call.

Each check that imports lancedb runs in a fresh interpreter: the test process may have imported
lancedb already, and then there is nothing left to defer.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pydantic
import pytest

from omnivec.indexer.storage.lancedb_import import DEFERRED_PACKAGE, _deferring

# Imports lancedb the way omnivec does (DataRoot.connect), then reports what it finds.
SESSION = r"""
import inspect, json, pkgutil, importlib
import pydantic
from pydantic.validate_call_decorator import validate_call as original
from omnivec.indexer.storage import open_data_root
from omnivec.indexer.config import StorageSettings
import sys, tempfile

open_data_root(tempfile.mkdtemp(), StorageSettings()).connect()
package = importlib.import_module(sys.argv[1])
deferred, decorated = 0, 0
for info in pkgutil.iter_modules(package.api.__path__, package.api.__name__ + "."):
    module = importlib.import_module(info.name)
    decorated += inspect.getsource(module).count("@validate_call")
    for _, cls in inspect.getmembers(module, inspect.isclass):
        if cls.__module__ == module.__name__:
            deferred += sum(getattr(f, "__omnivec_deferred_validation__", False)
                            for f in vars(cls).values())

from lance_namespace_urllib3_client.api.table_api import TableApi
from lance_namespace_urllib3_client.api_client import ApiClient
api = TableApi(ApiClient())
errors = {}
for name, call in {
    "deferred": api.alter_table_add_columns,
    "pydantic": original(TableApi.alter_table_add_columns.__wrapped__).__get__(api),
}.items():
    try:
        call(id=5, alter_table_add_columns_request="not a request")
    except pydantic.ValidationError as exc:
        errors[name] = [(e["loc"], e["type"]) for e in exc.errors()]
print(json.dumps({"deferred": deferred, "decorated": decorated, "errors": errors,
                  "restored": pydantic.validate_call is original}))
"""


def test_lancedb_imports_with_the_rest_client_validators_deferred() -> None:
    done = subprocess.run([sys.executable, "-c", SESSION, DEFERRED_PACKAGE], capture_output=True,
                          text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["restored"], "pydantic.validate_call is pydantic's own again after the import"
    # Every decorated method of the client was deferred: none built its validator at import.
    assert found["decorated"] > 100 and found["deferred"] == found["decorated"], found
    # A deferred method rejects bad arguments exactly as pydantic's decorator does at once.
    assert found["errors"]["deferred"], "a deferred method must still validate"
    assert found["errors"]["deferred"] == found["errors"]["pydantic"]


def test_only_the_rest_client_is_deferred() -> None:
    """A function of any other module, decorated while lancedb imports, is validated at once."""

    def add(a: int, b: int) -> int:
        return a + b

    decorated = _deferring(pydantic.validate_call)(add)
    assert not getattr(decorated, "__omnivec_deferred_validation__", False)
    assert decorated("2", 3) == 5  # lax mode: pydantic's own coercion
    with pytest.raises(pydantic.ValidationError):
        decorated("two", 3)
    with_options = _deferring(pydantic.validate_call)(validate_return=True)(add)
    assert with_options(1, 2) == 3


def test_a_deferred_function_builds_its_validator_once() -> None:
    built: list[str] = []

    def counting_validate_call(function, /, **options):  # type: ignore[no-untyped-def]
        built.append(function.__name__)
        return pydantic.validate_call(function, **options)

    def scale(x: float, factor: int) -> float:
        return x * factor

    scale.__module__ = f"{DEFERRED_PACKAGE}.api.made_up_api"
    deferred = _deferring(counting_validate_call)(scale)
    assert deferred.__omnivec_deferred_validation__ and built == []
    assert deferred(1.5, factor="2") == 3.0
    assert deferred(2.0, factor=3) == 6.0
    assert built == ["scale"]
    with pytest.raises(pydantic.ValidationError, match="factor"):
        deferred(1.0, factor="many")



# Threads that connect at once, as the server's warm-up and an early call do: each must get the
# whole lancedb module, never one another thread is still importing.
CONCURRENT = r"""
import tempfile, threading, time
from omnivec.indexer.storage import open_data_root
from omnivec.indexer.config import StorageSettings

errors = []
def connect(delay):
    time.sleep(delay)  # spread over the seconds the first import takes: some arrive mid-import
    try:
        open_data_root(tempfile.mkdtemp(), StorageSettings()).connect().table_names()
    except BaseException as exc:
        errors.append(repr(exc))
threads = [threading.Thread(target=connect, args=(i * 0.1,)) for i in range(16)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(errors)
"""


def test_threads_connecting_at_once_each_get_the_whole_module() -> None:
    done = subprocess.run([sys.executable, "-c", CONCURRENT], capture_output=True, text=True,
                          timeout=300, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
