"""The BLAS threading policy: what the environment asks for, the function that overrides it,
the errors for bad values, and what happens without threadpoolctl (no timing here)."""
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import chainrule
from chainrule import threads

pytest.importorskip("threadpoolctl")


@pytest.fixture
def saved_policy():
    """Whatever a test does to the policy and the BLAS thread count is undone after it."""
    state, parts, before = dict(threads._state), dict(threads._parts), threads.get_num_threads()
    yield
    if before is not None:
        threads._set(before)
    threads._state.clear()
    threads._state.update(state)
    threads._parts.update(parts)


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


# ---- splitting large kernels over idle cores ----------------------------------------------

@pytest.fixture
def two_cores(monkeypatch, saved_policy):
    """The default policy on a machine with two cores, nobody else running."""
    monkeypatch.setitem(threads._parts, "cores", 2)
    monkeypatch.setitem(threads._parts, "at", float("-inf"))
    monkeypatch.setattr(threads, "_others_running", lambda: 0)


def _record_parts(n: int) -> list:
    seen = []
    threads.in_parts(lambda lo, hi: seen.append((lo, hi, threading.current_thread().name)), n)
    return sorted(seen)


def test_work_is_split_over_two_idle_cores(two_cores):
    assert _record_parts(101) == [(0, 50, "MainThread"), (50, 101, "chainrule-worker")]


def test_on_a_busy_machine_work_runs_whole_on_this_thread(two_cores, monkeypatch):
    monkeypatch.setattr(threads, "_others_running", lambda: 1)   # another process runs
    assert _record_parts(100) == [(0, 100, "MainThread")]


def test_the_idle_count_is_trusted_for_a_moment_then_counted_again(two_cores, monkeypatch):
    assert threads._split_cores() == 2
    monkeypatch.setattr(threads, "_others_running", lambda: 1)
    assert threads._split_cores() == 2                           # counted a moment ago
    monkeypatch.setitem(threads._parts, "at", float("-inf"))     # RECOUNT_S later
    assert threads._split_cores() == 1


def test_a_thread_count_the_user_chose_turns_splitting_off(two_cores):
    chainrule.set_num_threads(1)
    assert _record_parts(100) == [(0, 100, "MainThread")]


def test_a_split_inside_a_split_runs_whole(two_cores):
    inner = []
    threads.in_parts(lambda lo, hi: inner.append(_record_parts(hi - lo)), 10)
    assert sorted(inner) == [[(0, 5, "MainThread")], [(0, 5, "chainrule-worker")]]


def test_an_error_in_either_part_reaches_the_caller_after_both_parts_ran(two_cores):
    ran = []

    def work(lo, hi):
        ran.append(lo)
        if lo > 0:
            raise ValueError(f"part {lo}:{hi} failed")
    with pytest.raises(ValueError, match="part 5:10 failed"):
        threads.in_parts(work, 10)
    assert sorted(ran) == [0, 5]
    assert _record_parts(4) == [(0, 2, "MainThread"), (2, 4, "chainrule-worker")]  # still works


def test_where_the_load_cannot_be_seen_nothing_is_split(two_cores, monkeypatch):
    def unseen():
        raise FileNotFoundError("/proc/loadavg")
    monkeypatch.setattr(threads, "_others_running", unseen)
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (0.3, 0.2, 0.1))
    assert threads._idle_cores() == 2                    # the load average stands in
    monkeypatch.delattr(threads.os, "getloadavg")        # as on Windows
    assert threads._idle_cores() == 0
    assert _record_parts(10) == [(0, 10, "MainThread")]


def test_the_idle_cores_count_other_processes_not_this_ones_threads(saved_policy):
    assert threads._others_running() >= 0   # this process's runnable threads are not counted


@pytest.mark.parametrize("shape", [(200, 784, 128), (4096, 64, 64), (333, 1000, 77)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_split_product_has_the_bits_of_the_whole_product(two_cores, monkeypatch, shape,
                                                           dtype):
    from chainrule import numerics
    splits = []
    in_parts = threads.in_parts
    monkeypatch.setattr(threads, "in_parts", lambda work, n: splits.append(n) or in_parts(work, n))
    m, k, n = shape
    rng = np.random.default_rng(m)
    a, b = rng.standard_normal((m, k)).astype(dtype), rng.standard_normal((k, n)).astype(dtype)
    for left, right in [(a, b), (np.asfortranarray(a), b), (a, np.asfortranarray(b))]:
        whole = left @ right
        split = numerics.matmul(left, right)
        assert splits.pop() == m          # split by rows
        assert split.dtype == whole.dtype
        assert split.tobytes() == whole.tobytes()


def test_the_default_policy_says_it_splits_large_kernels():
    result = _in_a_fresh_process("import chainrule.numerics, chainrule.threads as t; "
                                 "print(t.policy_info()['reason']); print(t._parts['cores'])")
    reason, cores = result.stdout.strip().splitlines()
    expected = len(os.sched_getaffinity(0))
    assert int(cores) == expected
    assert ("split over up to" in reason) is (expected > 1)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX only")
def test_a_forked_child_splits_with_its_own_worker(two_cores):
    # a DataLoader worker or a notebook's subprocess forks a process whose parent has a
    # worker thread already; the child must start its own, not wait for one that is gone
    assert _record_parts(4)[1][2] == "chainrule-worker"
    pid = os.fork()
    if pid == 0:   # the child: exit 0 only if the split ran on a worker of its own
        try:
            os._exit(0 if _record_parts(4)[1][2] == "chainrule-worker" else 1)
        finally:
            os._exit(2)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            assert os.waitstatus_to_exitcode(status) == 0
            return
        time.sleep(0.05)
    os.kill(pid, 9)
    pytest.fail("the forked child's split never finished")


def test_an_optimizer_step_split_over_idle_cores_has_the_bits_of_one_step(two_cores,
                                                                           monkeypatch):
    import chainrule as cr
    rng = np.random.default_rng(0)
    start, grads = rng.standard_normal(600_000).astype(np.float32), \
        [rng.standard_normal(600_000).astype(np.float32) for _ in range(3)]

    def three_adam_steps():
        p = cr.nn.Parameter(cr.tensor(start.copy()))
        opt = cr.optim.Adam([p], lr=0.01)
        for g in grads:
            p.grad = cr.tensor(g)
            opt.step()
        return p.detach().numpy()

    calls = []
    in_parts = threads.in_parts
    monkeypatch.setattr(threads, "in_parts", lambda work, n: calls.append(n) or in_parts(work, n))
    split = three_adam_steps()                  # 8 passes over 600,000 elements: split
    assert calls == [600_000] * 3
    monkeypatch.setitem(threads._parts, "cores", 1)
    assert three_adam_steps().tobytes() == split.tobytes()
