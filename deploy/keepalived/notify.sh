#!/bin/bash
# keepalived notify hook: records every VRRP state change (MASTER, BACKUP, FAULT, STOP) with a timestamp.
# keepalived appends <GROUP|INSTANCE> <name> <state> <priority> to the configured command line, so
#   notify "/etc/keepalived/notify.sh /var/log/parley-keepalived.log"
# calls it with the log file first. Without one it uses $PARLEY_KEEPALIVED_LOG, then the default.
log="${PARLEY_KEEPALIVED_LOG:-/var/log/parley-keepalived.log}"
if [ $# -ge 5 ]; then
  log="$1"
  shift
fi
printf '%s %s %s %s priority=%s\n' "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)" "$1" "$2" "$3" "$4" >> "$log"
logger -t parley-keepalived "$1 $2 is now $3" 2>/dev/null || true
exit 0
