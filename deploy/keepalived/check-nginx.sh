#!/bin/bash
# keepalived track script: is nginx on this host answering? Probes nginx's health endpoint over TCP
# (127.0.0.1:<port>/nginx-health) with a 1 s limit; exit 0 only on "HTTP/1.x 200". A dead, hung or
# unreachable nginx fails the check, so keepalived gives up the VIP. Usage: check-nginx.sh [port]
port="${1:-8001}"
reply=$(timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/${port} && printf 'GET /nginx-health HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3 && head -n 1 <&3" 2>/dev/null)
case "$reply" in
  HTTP/1.?\ 200*) exit 0 ;;
  *) exit 1 ;;
esac
