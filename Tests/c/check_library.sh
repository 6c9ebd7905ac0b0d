#!/bin/sh
# Checks the shipped libsimloss.so.1: its soname, that every defined dynamic
# symbol is simloss_* (or the version node), and that it needs no Swift
# library at load time (ldd lists only libc, libm, the loader, libstdc++, libgcc_s).
lib="$1"
fail=0
soname=$(readelf -d "$lib" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
[ "$soname" = "$(basename "$lib")" ] || { echo "FAIL soname is '$soname'"; fail=1; }
extra=$(nm -D --defined-only "$lib" | awk '{print $3}' | grep -v -E '^(simloss_[a-z0-9_]+@@SIMLOSS_1|SIMLOSS_1)$')
[ -z "$extra" ] || { echo "FAIL symbols beyond simloss_*:"; echo "$extra" | head; fail=1; }
needed=$(readelf -d "$lib" | sed -n 's/.*NEEDED.*\[\(.*\)\]/\1/p' | sort | tr '\n' ' ')
for n in $needed; do
  case "$n" in
    libc.so.6|libm.so.6|libstdc++.so.6|libgcc_s.so.1|ld-linux-x86-64.so.2) ;;
    *) echo "FAIL needs $n"; fail=1 ;;
  esac
done
if ldd "$lib" | grep -i swift; then echo "FAIL ldd shows a Swift library"; fail=1; fi
readelf -d "$lib" | grep -q NODELETE || { echo "FAIL not linked -z nodelete"; fail=1; }
# The fork guard's state (system_shims.h) is a static of an inline function:
# one copy per object file that emits it. Two copies once split the guard
# (each installed the fork handlers); there must be exactly one.
if ! nm "$lib" 2>&1 | grep -q "no symbols"; then  # a stripped library has none to count
  for static in 'simloss_fork_state_\.state' 'simloss_forking_thread_\.forking'; do
    copies=$(nm "$lib" | grep -c "$static")
    [ "$copies" -eq 1 ] || { echo "FAIL $copies copies of the fork guard's $static, not 1"; fail=1; }
  done
fi
echo "needed: $needed"
if [ $fail -eq 0 ]; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; fi
exit $fail
