#!/usr/bin/python3
# Runs Debian's real virt-install (package virtinst) for many command lines in one
# process, so libosinfo's database is loaded once instead of once per line (~1.5 s each).
# Reads one JSON array of arguments per stdin line; writes one JSON object per line:
# {"rc": exit status, "out": stdout, "err": stderr}. Each line goes through virt-install's
# own entry point (virtinst.virtinstall.main), exactly as /usr/bin/virt-install calls it.
# Meant for --print-xml/--dry-run lines against libvirt's test driver: nothing is created.
import contextlib
import io
import json
import sys

sys.path.insert(0, "/usr/share/virt-manager")
from virtinst import virtinstall  # noqa: E402


def run(argv):
    out, err = io.StringIO(), io.StringIO()
    sys.argv = ["virt-install"] + argv
    rc = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = virtinstall.main() or 0
        except SystemExit as e:
            rc = e.code if isinstance(e.code, int) else 1
        except Exception as e:  # what virt-install's runcli turns into "ERROR ..."
            print("ERROR    %s" % e, file=sys.stderr)
            rc = 1
    return {"rc": rc, "out": out.getvalue(), "err": err.getvalue()}


for line in sys.stdin:
    if line.strip():
        print(json.dumps(run(json.loads(line))), flush=True)
