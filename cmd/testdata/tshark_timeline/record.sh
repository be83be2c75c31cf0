#!/usr/bin/env bash
# Records tshark's view of every TCP packet of the corpus captures that the
# timeline tests check (cmd/timeline_test.go, TestTimelineMatchesTshark).
# Run from this directory with tshark installed; review the diff.
set -euo pipefail
corpus=../../../testdata/corpus
for f in 01_tcp_handshake_hello_fin.pcap 02_tcp_conn_refused_rst.pcap 03_tcp_abort_rst_midstream.pcap \
	04_http11_keepalive_curl.pcap 16_nmap_syn_scan_1-200.pcap 17_slow_sender_1byte_per_s.pcap; do
	{
		echo "# tshark $(tshark --version 2>/dev/null | head -1 | sed 's/^TShark (Wireshark) //') -r $f -Y tcp -T fields -e frame.number -e tcp.stream -e tcp.seq -e tcp.ack -e tcp.len -e tcp.flags"
		tshark -r "$corpus/$f" -Y tcp -T fields -e frame.number -e tcp.stream -e tcp.seq -e tcp.ack -e tcp.len -e tcp.flags 2>/dev/null
	} >"$f.tsv"
done
