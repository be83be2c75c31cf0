// Package output renders what the pipeline found: the last stage
// (capture → reassembly → decode → findings → output).
//
// Each view has a text form for terminals and a JSON-lines form for
// programs: read's stream table (ReadText, and the streamed writers for
// files too large to hold), follow's segment ↔ message map, transcript and
// raw bytes (FollowText, FollowTranscript, FollowJSON), the timeline ladder
// with its explanations and Mermaid export, the findings list, and the
// self-contained HTML report.
//
// Payload and names printed to a terminal are escaped (internal/textsafe:
// control characters, ESC, C1, bidi overrides) and every JSON record goes
// through NewJSONEncoder, which escapes the same characters. Output never
// decides what happened on the wire: it words the facts reassembly, decode
// and findings hand it.
package output
