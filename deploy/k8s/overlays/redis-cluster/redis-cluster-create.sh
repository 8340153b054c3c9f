#!/bin/sh
# Makes the StatefulSet's nodes one Redis Cluster, once (the Job redis-cluster-create).
#   redis-cluster-create.sh REPLICAS_PER_PRIMARY HOST:PORT...
# Waits until every node answers, does nothing when the cluster exists already, else
# `redis-cli --cluster create` (which needs IPs: CLUSTER MEET takes no names) and waits for
# cluster_state:ok on every node. A node that is not empty makes `--cluster create` refuse:
# then a person decides (deploy/README.md).
set -eu
replicas=$1
shift

resolve() { getent hosts "$1" | awk 'NR == 1 { print $1 }'; }

addrs=""
for node in "$@"; do
  host=${node%:*} port=${node##*:} tries=0
  while :; do
    ip=$(resolve "$host" || true)
    if [ -n "$ip" ] && redis-cli -h "$ip" -p "$port" ping 2>/dev/null | grep -q PONG; then
      break
    fi
    tries=$((tries + 1))
    if [ "$tries" -ge "${TRIES:-150}" ]; then
      echo "redis-cluster-create: $node does not answer" >&2
      exit 1
    fi
    sleep 2
  done
  addrs="$addrs $ip:$port"
done

state() { redis-cli -h "${1%:*}" -p "${1##*:}" cluster info | tr -d '\r' | sed -n 's/^cluster_state://p'; }

first=${addrs# }
first=${first%% *}
if [ "$(state "$first")" = ok ]; then
  echo "redis-cluster-create: the cluster exists already"
  exit 0
fi
# shellcheck disable=SC2086 # one argument per node
redis-cli --cluster create $addrs --cluster-replicas "$replicas" --cluster-yes
for addr in $addrs; do
  tries=0
  until [ "$(state "$addr")" = ok ]; do
    tries=$((tries + 1))
    if [ "$tries" -ge 120 ]; then
      echo "redis-cluster-create: $addr never reached cluster_state:ok" >&2
      exit 1
    fi
    sleep 1
  done
done
echo "redis-cluster-create: cluster_state:ok on every node"
