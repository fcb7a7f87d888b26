"""examples/rwlock_inversion: rwlock (write) -> mutex, then mutex -> rwlock (read)."""
import lwtest as lw


def main(t):
    prog = lw.example("rwlock_inversion")
    native = lw.native_ok(t, prog)
    run = lw.run_preload(prog)
    what = "rwlock_inversion"
    t.expect(run.returncode == lw.DEFAULT_EXITCODE, "%s: exit status %d, expected %d"
             % (what, run.returncode, lw.DEFAULT_EXITCODE))
    lw.expect_same_stdout(t, native, run, what)
    lw.expect_quiet_stderr(t, run, what)
    rep = lw.require_single_inversion(t, run, what, 2)

    kinds = sorted(lk["kind"] for lk in rep["locks"])
    t.require(kinds == ["mutex", "rwlock"], "%s: lock kinds %r, expected one mutex and one rwlock"
              % (what, kinds))
    rw = [lk for lk in rep["locks"] if lk["kind"] == "rwlock"][0]
    mx = [lk for lk in rep["locks"] if lk["kind"] == "mutex"][0]
    t.expect(rw["type"] is None, "%s: rwlock type should be null, is %r" % (what, rw["type"]))

    rw_to_m = [e for e in rep["cycle"] if e["from"] == rw["id"]]
    m_to_rw = [e for e in rep["cycle"] if e["from"] == mx["id"]]
    t.require(len(rw_to_m) == 1 and len(m_to_rw) == 1, "%s: cycle %r" % (what, rep["cycle"]))
    e1, e2 = rw_to_m[0], m_to_rw[0]
    t.expect(e1["from_mode"] == "write" and e1["to_mode"] == "write",
             "%s: rwlock->mutex edge should be write/write (wrlock held): %r" % (what, e1))
    t.expect(e2["from_mode"] == "write" and e2["to_mode"] == "read",
             "%s: mutex->rwlock edge should be write/read (rdlock taken): %r" % (what, e2))
    t.expect(lw.has_function(lw.stack(rep, e1["stack"]), "write_table_then_stats"),
             "%s: rwlock->mutex edge not acquired in write_table_then_stats: %r"
             % (what, lw.functions(lw.stack(rep, e1["stack"]))))
    t.expect(lw.has_function(lw.stack(rep, e2["stack"]), "stats_then_read_table"),
             "%s: mutex->rwlock edge not acquired in stats_then_read_table: %r"
             % (what, lw.functions(lw.stack(rep, e2["stack"]))))


lw.main(main)
