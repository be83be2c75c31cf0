package reassembly

import "testing"

func TestParseStreamID(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"tcp/3", "tcp/3", true}, {"3", "tcp/3", true}, {"udp/0", "udp/0", true}, {"TCP/12", "tcp/12", true}, {"Udp/7", "udp/7", true},
		{"icmp/1", "", false}, {"tcp/", "", false}, {"-1", "", false}, {"tcp/x", "", false}, {"", "", false},
		{"tcp/+1", "", false}, {"/1", "", false}, {"tcp/1/2", "", false}, {"tcp/99999999999999999999", "", false},
	}
	for _, tt := range tests {
		id, err := ParseStreamID(tt.in)
		if (err == nil) != tt.ok || (tt.ok && id.String() != tt.want) {
			t.Errorf("ParseStreamID(%q) = %v, %v; want %q ok=%v", tt.in, id, err, tt.want, tt.ok)
		}
	}
}
