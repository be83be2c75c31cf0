package decode

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"github.com/sockscope/sockscope/reassembly"
)

// Kafka's wire protocol (kafka.apache.org/protocol): every message is an
// Int32 size and that many bytes. A request starts with its header: Int16
// api key, Int16 api version, Int32 correlation id, a nullable String client
// id (then, in flexible versions, tagged fields); a response starts with the
// correlation id alone, so the decoder remembers each request's api key and
// version by correlation id to name the response that answers it.

const (
	kafkaMaxMessage = 100 << 20 // the broker's default socket.request.max.bytes
	kafkaMaxPending = 4096      // requests remembered while waiting for their responses
	kafkaMaxVersion = 30
)

// kafkaAPIs names the api keys (the protocol guide's table; 0-74).
var kafkaAPIs = [...]string{"Produce", "Fetch", "ListOffsets", "Metadata", "LeaderAndIsr", "StopReplica",
	"UpdateMetadata", "ControlledShutdown", "OffsetCommit", "OffsetFetch", "FindCoordinator", "JoinGroup",
	"Heartbeat", "LeaveGroup", "SyncGroup", "DescribeGroups", "ListGroups", "SaslHandshake", "ApiVersions",
	"CreateTopics", "DeleteTopics", "DeleteRecords", "InitProducerId", "OffsetForLeaderEpoch",
	"AddPartitionsToTxn", "AddOffsetsToTxn", "EndTxn", "WriteTxnMarkers", "TxnOffsetCommit",
	"DescribeAcls", "CreateAcls", "DeleteAcls", "DescribeConfigs", "AlterConfigs",
	"AlterReplicaLogDirs", "DescribeLogDirs", "SaslAuthenticate", "CreatePartitions",
	"CreateDelegationToken", "RenewDelegationToken", "ExpireDelegationToken", "DescribeDelegationToken",
	"DeleteGroups", "ElectLeaders", "IncrementalAlterConfigs", "AlterPartitionReassignments",
	"ListPartitionReassignments", "OffsetDelete", "DescribeClientQuotas", "AlterClientQuotas",
	"DescribeUserScramCredentials", "AlterUserScramCredentials", "Vote", "BeginQuorumEpoch",
	"EndQuorumEpoch", "DescribeQuorum", "AlterPartition", "UpdateFeatures", "Envelope",
	"FetchSnapshot", "DescribeCluster", "DescribeProducers", "BrokerRegistration",
	"BrokerHeartbeat", "UnregisterBroker", "DescribeTransactions", "ListTransactions",
	"AllocateProducerIds", "ConsumerGroupHeartbeat", "ConsumerGroupDescribe", "ControllerRegistration",
	"GetTelemetrySubscriptions", "PushTelemetry", "AssignReplicasToDirs", "ListClientMetricsResources"}

func kafkaAPIName(key int16) string {
	if key >= 0 && int(key) < len(kafkaAPIs) {
		return kafkaAPIs[key]
	}
	return "api " + strconv.Itoa(int(key))
}

type kafkaReq struct{ key, version int16 }

// kafkaDecoder frames Kafka requests (client to server) and responses.
type kafkaDecoder struct {
	pending map[int32]kafkaReq
}

var (
	_ Decoder  = (*kafkaDecoder)(nil)
	_ Resyncer = (*kafkaDecoder)(nil)
)

func newKafka(Transport) Decoder { return &kafkaDecoder{pending: map[int32]kafkaReq{}} }

func kafkaErr(off int, format string, args ...any) *Error {
	return &Error{Protocol: "kafka", Offset: off, Reason: fmt.Sprintf(format, args...)}
}

// kafkaRequestHeader checks a request header at the front of b (after the
// size) and returns api key, version, correlation id and client id; ok is
// false when it cannot be a request; need when b is too short to tell.
func kafkaRequestHeader(b []byte) (key, version int16, corr int32, client string, hasClient, ok, need bool) {
	if len(b) < 10 {
		return 0, 0, 0, "", false, false, true
	}
	key, version = int16(binary.BigEndian.Uint16(b)), int16(binary.BigEndian.Uint16(b[2:]))
	corr = int32(binary.BigEndian.Uint32(b[4:]))
	if key < 0 || int(key) >= len(kafkaAPIs) || version < 0 || version > kafkaMaxVersion {
		return 0, 0, 0, "", false, false, false
	}
	l := int16(binary.BigEndian.Uint16(b[8:]))
	if l < -1 {
		return 0, 0, 0, "", false, false, false
	}
	if l >= 0 {
		if len(b) < 10+int(l) {
			return key, version, corr, "", false, true, true
		}
		client, hasClient = string(b[10:10+int(l)]), true
	}
	return key, version, corr, client, hasClient, true, false
}

// Next implements Decoder.
func (d *kafkaDecoder) Next(dir reassembly.Direction, b []byte, atEOF bool) (Message, int, error) {
	if len(b) < 4 {
		return Message{}, 0, ErrNeedMore
	}
	size := int64(binary.BigEndian.Uint32(b))
	min := int64(4)
	if dir == reassembly.ClientToServer {
		min = 10
	}
	if size < min || size > kafkaMaxMessage {
		return Message{}, 0, kafkaErr(0, "implausible message size %d (want %d to %d)", int32(size), min, kafkaMaxMessage)
	}
	if dir == reassembly.ClientToServer && len(b) >= 14 {
		if _, _, _, _, _, ok, _ := kafkaRequestHeader(b[4:]); !ok {
			return Message{}, 0, kafkaErr(4, "not a Kafka request header (api key %d, version %d)",
				int16(binary.BigEndian.Uint16(b[4:])), int16(binary.BigEndian.Uint16(b[6:])))
		}
	}
	n := int(4 + size)
	if len(b) < n {
		return Message{}, n, ErrNeedMore
	}
	m := Message{Protocol: "kafka", Parts: []Part{{reassembly.ByteRange{End: 4}, "size"}}}
	body := b[4:n]
	if dir == reassembly.ClientToServer {
		key, version, corr, client, hasClient, _, need := kafkaRequestHeader(body)
		if need {
			return Message{}, 0, kafkaErr(12, "client id longer than the %d-byte message", size)
		}
		// A response names its request by correlation id; a Produce with
		// acks=0 gets none (it stays unanswered).
		m.Role, m.Key = RoleRequest, strconv.Itoa(int(corr))
		name := kafkaAPIName(key)
		m.Fields = []Field{{"type", "request"}, {"api", name}, {"api_key", strconv.Itoa(int(key))},
			{"api_version", strconv.Itoa(int(version))}, {"correlation_id", strconv.Itoa(int(corr))}, {"length", strconv.FormatInt(size, 10)}}
		hdr := 10
		if hasClient {
			hdr += len(client)
			m.Fields = append(m.Fields, Field{"client_id", client})
		}
		m.Parts = append(m.Parts, Part{reassembly.ByteRange{Start: 4, End: int64(4 + hdr)}, "request header"})
		if hdr < len(body) {
			m.Parts = append(m.Parts, Part{reassembly.ByteRange{Start: int64(4 + hdr), End: int64(n)}, "body"})
		}
		if _, dup := d.pending[corr]; dup || len(d.pending) < kafkaMaxPending {
			d.pending[corr] = kafkaReq{key, version}
		}
		m.Summary = fmt.Sprintf("%s v%d request corr %d · %s", name, version, corr, bSize(size+4))
		if hasClient && client != "" {
			m.Summary += " client " + strconv.Quote(bTrunc(client, 40))
		}
		if key == 0 { // Produce: the topics and how many record bytes each carries
			if topics, records, ok := kafkaProduceTopics(body[hdr:], version); ok && len(topics) > 0 {
				m.Fields = append(m.Fields, Field{"topics", strings.Join(topics, ",")}, Field{"record_bytes", strconv.FormatInt(records, 10)})
				for i := range topics {
					topics[i] = strconv.Quote(bTrunc(topics[i], 40))
				}
				if len(topics) > 3 {
					topics = append(topics[:3], fmt.Sprintf("+%d more", len(topics)-3))
				}
				m.Summary += " · topic " + strings.Join(topics, " ") + " " + bSize(records) + " of records"
			}
		}
		return m, n, nil
	}
	corr := int32(binary.BigEndian.Uint32(body))
	m.Role, m.Key = RoleResponse, strconv.Itoa(int(corr))
	m.Fields = []Field{{"type", "response"}, {"correlation_id", strconv.Itoa(int(corr))}, {"length", strconv.FormatInt(size, 10)}}
	m.Parts = append(m.Parts, Part{reassembly.ByteRange{Start: 4, End: 8}, "correlation id"})
	if size > 4 {
		m.Parts = append(m.Parts, Part{reassembly.ByteRange{Start: 8, End: int64(n)}, "body"})
	}
	req, ok := d.pending[corr]
	if !ok {
		m.Summary = fmt.Sprintf("response corr %d (request not seen) · %s", corr, bSize(size+4))
		return m, n, nil
	}
	delete(d.pending, corr)
	name := kafkaAPIName(req.key)
	m.Fields = append(m.Fields, Field{"api", name}, Field{"api_key", strconv.Itoa(int(req.key))}, Field{"api_version", strconv.Itoa(int(req.version))})
	m.Summary = fmt.Sprintf("%s v%d response corr %d · %s", name, req.version, corr, bSize(size+4))
	if req.key == 18 && len(body) >= 6 { // ApiVersions: its error code comes first, in every version
		if code := int16(binary.BigEndian.Uint16(body[4:])); code != 0 {
			m.Summary += " error " + strconv.Itoa(int(code))
			m.Fields = append(m.Fields, Field{"error_code", strconv.Itoa(int(code))})
		}
	}
	return m, n, nil
}

// Resync implements Resyncer: the first offset where a plausible size is
// followed by a request header (client side) or where the message it
// declares ends at the end of b or at another plausible size.
func (d *kafkaDecoder) Resync(dir reassembly.Direction, b []byte) int {
	plausible := func(i int) bool {
		if i+4 > len(b) {
			return false
		}
		size := int64(binary.BigEndian.Uint32(b[i:]))
		return size >= 4 && size <= kafkaMaxMessage
	}
	for i := 0; i+4 <= len(b); i++ {
		if !plausible(i) {
			continue
		}
		if dir == reassembly.ClientToServer {
			if _, _, _, _, _, ok, _ := kafkaRequestHeader(b[i+4:]); ok {
				return i
			}
			continue
		}
		end := i + 4 + int(binary.BigEndian.Uint32(b[i:]))
		if end == len(b) || end < len(b) && plausible(end) {
			return i
		}
	}
	return -1
}

// detectKafka reports whether c2s starts with a Kafka request: a size that
// covers at least the header, a known api key with a version in range, and a
// printable client id; a response in s2c, if any, must carry the same
// correlation id.
func detectKafka(c2s, s2c []byte) (string, bool) {
	if len(c2s) < 14 {
		return "", false
	}
	size := binary.BigEndian.Uint32(c2s)
	if size < 10 || size > 1<<20 {
		return "", false
	}
	key, version, corr, client, hasClient, ok, need := kafkaRequestHeader(c2s[4:])
	if !ok || need && len(c2s) >= 4+int(size) {
		return "", false
	}
	if hasClient && 10+len(client) > int(size) {
		return "", false
	}
	for _, c := range []byte(client) {
		if c < 0x20 || c >= 0x7f {
			return "", false
		}
	}
	if len(s2c) >= 8 && int32(binary.BigEndian.Uint32(s2c[4:])) != corr {
		return "", false
	}
	return fmt.Sprintf("Kafka %s v%d request (correlation id %d)", kafkaAPIName(key), version, corr), true
}

// kafkaReader reads Kafka's primitive types, and their compact (flexible
// version) forms, failing once without panicking.
type kafkaReader struct {
	b   []byte
	bad bool
}

func (r *kafkaReader) take(n int) []byte {
	if r.bad || n < 0 || n > len(r.b) {
		r.bad = true
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *kafkaReader) uvarint() int64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 || v > 1<<31 {
		r.bad = true
		return 0
	}
	r.b = r.b[n:]
	return int64(v)
}

func (r *kafkaReader) int16() int16 {
	if b := r.take(2); b != nil {
		return int16(binary.BigEndian.Uint16(b))
	}
	return 0
}

func (r *kafkaReader) int32() int32 {
	if b := r.take(4); b != nil {
		return int32(binary.BigEndian.Uint32(b))
	}
	return 0
}

// str reads a (nullable) string: Int16 length, or compact: uvarint length+1.
func (r *kafkaReader) str(compact bool) string {
	var n int64
	if compact {
		n = r.uvarint() - 1
	} else {
		n = int64(r.int16())
	}
	if n < 0 {
		return ""
	}
	return string(r.take(int(n)))
}

// count reads an array length: Int32, or compact: uvarint length+1.
func (r *kafkaReader) count(compact bool) int {
	if compact {
		return int(r.uvarint() - 1)
	}
	return int(r.int32())
}

// bytes skips a (nullable) byte string and returns its length.
func (r *kafkaReader) bytes(compact bool) int64 {
	var n int64
	if compact {
		n = r.uvarint() - 1
	} else {
		n = int64(r.int32())
	}
	if n <= 0 {
		return 0
	}
	r.take(int(n))
	return n
}

// tags skips a tagged-fields section (flexible versions).
func (r *kafkaReader) tags() {
	for n := r.uvarint(); n > 0 && !r.bad; n-- {
		r.uvarint()
		r.take(int(r.uvarint()))
	}
}

// kafkaProduceTopics reads a Produce request after its header's client id:
// the topic names and the record bytes they carry. Versions 9 and later are
// flexible (compact strings and arrays, tagged fields, header tags too).
func kafkaProduceTopics(b []byte, version int16) (topics []string, records int64, ok bool) {
	flex := version >= 9
	r := &kafkaReader{b: b}
	if flex {
		r.tags() // the request header's tagged fields
	}
	if version >= 3 {
		r.str(flex) // transactional id
	}
	r.int16() // acks
	r.int32() // timeout
	nt := r.count(flex)
	for i := 0; i < nt && !r.bad && i < 1000; i++ {
		topics = append(topics, r.str(flex))
		np := r.count(flex)
		for j := 0; j < np && !r.bad && j < 100000; j++ {
			r.int32() // partition
			records += r.bytes(flex)
			if flex {
				r.tags()
			}
		}
		if flex {
			r.tags()
		}
	}
	return topics, records, !r.bad
}
