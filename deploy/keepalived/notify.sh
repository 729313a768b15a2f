#!/bin/bash
# keepalived notify hook: records every VRRP state change (MASTER, BACKUP, FAULT, STOP) with a timestamp.
# keepalived calls it as: notify.sh <GROUP|INSTANCE> <name> <state> <priority>
log="${PARLEY_KEEPALIVED_LOG:-/var/log/parley-keepalived.log}"
printf '%s %s %s %s priority=%s\n' "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)" "$1" "$2" "$3" "$4" >> "$log"
logger -t parley-keepalived "$1 $2 is now $3" 2>/dev/null || true
exit 0
