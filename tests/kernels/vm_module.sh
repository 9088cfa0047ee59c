#!/usr/bin/env bash
# vm_module.sh: kernel.module_load and kernel.module_loaded with a real module, on kernels with
# modules (not named test_*: tests/run would run it on this machine, which has none; the
# kernel matrix runs it; this machine's kernel has none, see tests/probes/test_priv.sh): a real
# finit_module (or init_module, when kmod decompresses the file itself) of Debian's dummy.ko,
# then its removal.
. "$(dirname "$0")/../lib.sh"
need_root

ko=$(ls /usr/lib/modules/"$(uname -r)"/kernel/drivers/net/dummy.ko* 2>/dev/null | head -n1)
if [ -z "$ko" ] || [ ! -e /proc/modules ]; then
	not_ok "a module to load" "no /proc/modules or no dummy.ko under /usr/lib/modules/$(uname -r)"
	exit 1
fi
agent_start || { not_ok "agent starts" "$(cat "$T/agent.err")"; exit 1; }
hb=$(wait_event 'select(.kind=="agent.heartbeat")')
expect_jq "module probes attached" "$hb" '[.agent.probes["kernel.module_load","kernel.module_loaded"].state]|all(.=="attached")'
rmmod dummy 2>/dev/null
insmod "$ko" numdummies=1 &
ip=$!
wait $ip
expect_eq "insmod loads dummy" "$?" 0
ev=$(wait_event "select(.kind==\"kernel.module_load\" and .proc.pid==$ip and .module.syscall!=\"module_load\")") || { not_ok "module load syscall seen" "pid $ip"; ev='{}'; }
# the syscall kmod chose: finit_module with the file, or init_module with the image it read
expect_jq "module load syscall fields" "$ev" "(.module.syscall==\"finit_module\" and .module.path==\"$ko\" and (.module.fd|type)==\"number\") or (.module.syscall==\"init_module\" and .module.image_bytes>0)"
expect_jq "module load result" "$ev" '.module.result==0 and .module.error==null and .module.params=="numdummies=1" and .proc.comm=="insmod"'
ev=$(wait_event "select(.kind==\"kernel.module_load\" and .module.syscall==\"module_load\" and .module.name==\"dummy\")") || { not_ok "module_loaded seen" "no module_load tracepoint event"; ev='{}'; }
expect_jq "module_loaded names the module, in the loader's process" "$ev" ".proc.pid==$ip and .proc.comm==\"insmod\""
rmmod dummy &
rp=$!
wait $rp
expect_eq "rmmod removes dummy" "$?" 0
ev=$(wait_event "select(.kind==\"kernel.module_load\" and .proc.pid==$rp and .module.syscall==\"delete_module\")") || { not_ok "delete_module seen" "pid $rp"; ev='{}'; }
expect_jq "delete_module fields" "$ev" '.module.name=="dummy" and .module.result==0'
agent_stop
