#!/bin/sh
# Starts one node of the Redis Cluster StatefulSet (deploy/README.md, "Redis Cluster").
#   redis-cluster-start.sh CONFIG HOSTNAME IP [redis-server options...]
# HOSTNAME is the pod's stable DNS name (announced to clients and peers), IP its address now.
# A pod's IP changes at every restart, and Redis keeps its peers' IPs in nodes.conf: after all
# the pods restarted at once (a node pool replaced, a region restart), no node could reach
# another. So before Redis starts, every peer line of nodes.conf gets the address its stable
# name resolves to now (Redis 7 writes the name beside the IP: `ip:port@bus,hostname[,aux]`).
set -eu
config=$1 me=$2 ip=$3
shift 3
nodes=${NODES_CONF:-/data/nodes.conf}

resolve() { getent hosts "$1" | awk 'NR == 1 { print $1 }'; }

if [ -s "$nodes" ]; then
  fresh="$nodes.fresh"
  : > "$fresh"
  while read -r id addr flags rest; do
    case "$id,$flags" in
      vars,* | *,*myself*) ;;  # the epoch line; this node's own line (Redis updates it itself)
      *)
        names=${addr#*,}
        host=${names%%,*}
        if [ "$names" != "$addr" ] && [ -n "$host" ]; then
          tries=0 now=""
          while [ -z "$now" ] && [ "$tries" -lt "${RESOLVE_TRIES:-30}" ]; do
            now=$(resolve "$host" || true)
            [ -n "$now" ] || { tries=$((tries + 1)); sleep 1; }
          done
          if [ -n "$now" ]; then
            ports=${addr%%,*}
            addr="$now:${ports##*:},$names"
          fi
        fi
        ;;
    esac
    echo "$id $addr $flags${rest:+ $rest}" >> "$fresh"
  done < "$nodes"
  mv "$fresh" "$nodes"
fi

exec redis-server "$config" --cluster-announce-hostname "$me" --cluster-announce-ip "$ip" "$@"
