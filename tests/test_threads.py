"""The BLAS threading policy: what the environment asks for, the function that overrides it,
the errors for bad values, and what happens without threadpoolctl (no timing here)."""
import os
import subprocess
import sys

import numpy as np
import pytest

import chainrule
from chainrule import threads

pytest.importorskip("threadpoolctl")


@pytest.fixture
def saved_policy():
    """Whatever a test does to the policy and the BLAS thread count is undone after it."""
    state, wide, before = dict(threads._state), dict(threads._wide), threads.get_num_threads()
    yield
    if before is not None:
        threads._set(before)
    threads._state.clear()
    threads._state.update(state)
    threads._wide.update(wide)


@pytest.mark.parametrize("environ, expected", [
    ({}, 1),
    ({"CHAINRULE_NUM_THREADS": "2"}, 2),
    ({"CHAINRULE_NUM_THREADS": " 3 "}, 3),
    ({"CHAINRULE_NUM_THREADS": ""}, 1),                 # empty counts as unset
    ({"CHAINRULE_NUM_THREADS": "keep"}, None),
    ({"CHAINRULE_NUM_THREADS": "KEEP"}, None),
    ({"OMP_NUM_THREADS": "4"}, None),                   # the user chose already
    ({"OPENBLAS_NUM_THREADS": "2"}, None),
    ({"OMP_NUM_THREADS": "4", "CHAINRULE_NUM_THREADS": "1"}, 1),  # chainrule's own wins
])
def test_the_environment_decides_the_thread_count(environ, expected):
    count, reason = threads.policy_threads(environ)
    assert count == expected
    assert reason


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5", "2 threads"])
def test_a_bad_environment_value_is_refused_with_the_variable_named(value):
    with pytest.raises(ValueError, match="CHAINRULE_NUM_THREADS must be a whole number of "
                                         "threads >= 1.*'keep'"):
        threads.policy_threads({"CHAINRULE_NUM_THREADS": value})


@pytest.mark.parametrize("value", [0, -2, 1.0, 2.5, True, None, "x"])
def test_set_num_threads_refuses_what_is_not_a_thread_count(value, saved_policy):
    with pytest.raises(ValueError, match="set_num_threads must be a whole number"):
        chainrule.set_num_threads(value)


def test_set_num_threads_sets_numpys_blas_and_outranks_the_policy(saved_policy):
    chainrule.set_num_threads(2)
    assert chainrule.get_num_threads() == 2
    assert threads.policy_info()["explicit"] is True
    # the import-time policy, run again (e.g. by a late first import), changes nothing now
    assert threads.apply_policy({"CHAINRULE_NUM_THREADS": "1"}) == 2
    assert chainrule.get_num_threads() == 2
    chainrule.set_num_threads(1)
    assert chainrule.get_num_threads() == 1


def test_the_policy_is_applied_once(saved_policy):
    threads._state.update(applied=False, explicit=False)
    assert threads.apply_policy({"CHAINRULE_NUM_THREADS": "2"}) == 2
    assert threads.get_num_threads() == 2
    assert threads.apply_policy({"CHAINRULE_NUM_THREADS": "1"}) == 2  # already applied
    threads._state.update(applied=False)
    assert threads.apply_policy({"CHAINRULE_NUM_THREADS": "keep"}) is None
    assert threads.get_num_threads() == 2  # kept as it was


def test_without_threadpoolctl_the_policy_steps_aside_and_set_num_threads_says_why(
        monkeypatch, saved_policy):
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)  # import fails as if missing
    threads._state.update(applied=False, explicit=False)
    assert threads.apply_policy({}) is None
    assert "threadpoolctl is not installed" in threads.policy_info()["reason"]
    assert threads.get_num_threads() is None
    with pytest.raises(RuntimeError, match=r"pip install threadpoolctl"):
        threads.set_num_threads(2)


def _in_a_fresh_process(code: str, **env) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items()
               if k != "CHAINRULE_NUM_THREADS" and k not in threads.BLAS_ENV_VARS}
    return subprocess.run([sys.executable, "-c", code], env={**environ, **env},
                          capture_output=True, text=True, timeout=120)


PROBE = ("import chainrule, sys; assert 'numpy' not in sys.modules; "
         "from chainrule.models import TwoLayerNet; "
         "print(chainrule.get_num_threads(), chainrule.threads.policy_info()['threads'])")


@pytest.mark.parametrize("env, expected", [({}, "1 1"), ({"CHAINRULE_NUM_THREADS": "2"}, "2 2")])
def test_using_either_face_applies_the_policy_and_import_alone_loads_no_numpy(env, expected):
    result = _in_a_fresh_process(PROBE, **env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == expected.split()


def test_a_bad_environment_value_stops_the_first_use_with_a_clear_error():
    result = _in_a_fresh_process(PROBE, CHAINRULE_NUM_THREADS="lots")
    assert result.returncode != 0
    assert "CHAINRULE_NUM_THREADS must be a whole number of threads >= 1, got 'lots'" \
        in result.stderr


# ---- the per-size part: every idle core for a large product, one thread for the rest ----

@pytest.fixture
def two_cores(monkeypatch, saved_policy):
    """The default policy on a machine with two cores, the BLAS library at one thread."""
    threads._set(1)
    monkeypatch.setitem(threads._wide, "libs", tuple(threads._controller().lib_controllers))
    monkeypatch.setitem(threads._wide, "threads", 2)


def _threads_inside_large_product() -> int:
    with threads.large_product():
        return threads.get_num_threads()


def test_a_large_product_gets_the_idle_cores_and_then_one_thread_again(two_cores, monkeypatch):
    monkeypatch.setattr(threads, "_others_running", lambda: 0)
    assert _threads_inside_large_product() == 2
    assert threads.get_num_threads() == 1


def test_a_large_product_on_a_busy_machine_stays_on_one_thread(two_cores, monkeypatch):
    monkeypatch.setattr(threads, "_others_running", lambda: 1)   # another process runs
    assert _threads_inside_large_product() == 1
    monkeypatch.setattr(threads, "_others_running", lambda: 5)
    assert _threads_inside_large_product() == 1


def test_a_thread_count_the_user_chose_holds_for_large_products_too(two_cores, monkeypatch):
    monkeypatch.setattr(threads, "_others_running", lambda: 0)
    chainrule.set_num_threads(1)
    assert _threads_inside_large_product() == 1


def test_the_idle_cores_count_other_processes_not_this_ones_threads(two_cores):
    others = threads._others_running()
    assert others >= 0     # this process's own runnable threads are subtracted
    assert threads._idle_cores() <= 2


def test_numerics_matmul_is_numpys_product_for_small_and_large_shapes(two_cores, monkeypatch):
    from chainrule import numerics
    seen = []
    monkeypatch.setattr(threads, "_others_running", lambda: seen.append(1) or 0)
    rng = np.random.default_rng(0)
    for a_shape, b_shape, large in [((3, 4), (4, 5), False), ((4,), (4, 5), False),
                                    ((2, 3, 4), (4,), False), ((2, 3, 4), (4, 5), False),
                                    ((1024, 256), (256, 256), True)]:   # 2**26 multiply-adds
        a, b = rng.standard_normal(a_shape), rng.standard_normal(b_shape)
        seen.clear()
        np.testing.assert_array_equal(numerics.matmul(a, b), a @ b)
        assert bool(seen) is large, (a_shape, b_shape)   # only a large one asks for cores
    assert threads.get_num_threads() == 1


def test_the_default_policy_says_it_widens_large_products():
    result = _in_a_fresh_process("import chainrule.numerics, chainrule.threads as t; "
                                 "print(t.policy_info()['reason']); print(t._wide['threads'])")
    reason, cores = result.stdout.strip().splitlines()
    expected = len(os.sched_getaffinity(0))
    assert int(cores) == expected
    assert ("products of >= 2**26 multiply-adds" in reason) is (expected > 1)
