package output

import (
	"fmt"

	"github.com/sockscope/sockscope/decode"
	"github.com/sockscope/sockscope/decode/tlsdec"
	"github.com/sockscope/sockscope/internal/human"
	"github.com/sockscope/sockscope/reassembly"
)

// MessageLabels frames s with spec (decode.Analyze) and returns the message
// summaries by frame, and how the framing was chosen. A message is labelled on
// the frame that carried its first byte ("#2 len=12 …"); frames that carry
// its later bytes get "#2 continued" or "#2 ends", so a message split across
// segments is visible on every arrow it spans. spec "none" (or a framing that
// fails) gives no labels. With keys, a TLS stream's records are labelled
// with what they held, and the messages inside on the frames that carried
// them ("↳ #1 GET /").
func MessageLabels(s *reassembly.Stream, spec string, keys *tlsdec.KeyLog) (map[int][]string, string) {
	if spec == "" || spec == "none" || s.Dirs[0].Bytes+s.Dirs[1].Bytes == 0 {
		return nil, "" // nothing to frame
	}
	var layer *decode.TLSLayer
	if keys.Len() > 0 {
		layer, _ = decode.AnalyzeTLS(s, keys, spec)
	}
	var a *decode.Analysis
	var err error
	if layer != nil {
		a = layer.Outer
	} else if a, err = decode.Analyze(s, spec); err != nil || a == nil {
		return nil, ""
	}
	labels := map[int][]string{}
	for d := range a.Messages {
		for _, m := range a.Messages[d] {
			if len(m.Frames) == 0 {
				continue
			}
			text := fmt.Sprintf("#%d %s", m.Index, m.Summary)
			if m.Partial {
				text += " (partial)"
			}
			if m.Answers > 0 {
				text += fmt.Sprintf(" (answers #%d after %s)", m.Answers, human.Duration(m.Service))
			}
			if n := len(m.Frames); n > 1 {
				text += fmt.Sprintf(" (continues to frame %d)", m.Frames[n-1])
			}
			labels[m.Frames[0]] = append(labels[m.Frames[0]], text)
			for i, f := range m.Frames[1:] {
				cont := fmt.Sprintf("#%d continued", m.Index)
				if i == len(m.Frames)-2 {
					cont = fmt.Sprintf("#%d ends", m.Index)
				}
				labels[f] = append(labels[f], cont)
			}
		}
	}
	if layer != nil && layer.Inner != nil {
		for d := range layer.Inner.Messages {
			for _, m := range layer.Inner.Messages[d] {
				if len(m.Frames) > 0 {
					labels[m.Frames[len(m.Frames)-1]] = append(labels[m.Frames[len(m.Frames)-1]], fmt.Sprintf("↳ %s #%d %s", layer.Inner.Framing, m.Index, m.Summary))
				}
			}
		}
		return labels, a.Framing + " (" + a.Reason + "), " + layer.Inner.Framing + " inside (" + layer.Inner.Reason + ")"
	}
	return labels, a.Framing + " (" + a.Reason + ")"
}
