package capture

// Source yields decoded packets in capture order.
type Source interface {
	// Next fills p with the next frame. It returns io.EOF at the end of a file
	// (or when a live capture is stopped), or a *DamageError when the file is
	// damaged: every frame before the damage has been returned.
	Next(p *Packet) error
	// Info describes the source (format, link types, snaplen).
	Info() Info
	Close() error
}

// Info describes a capture source.
type Info struct {
	Name      string     // file path, "-" for stdin, or the interface name
	Format    string     // "pcap", "pcap-ns", "pcapng", "live"
	Gzip      bool       // the file was gzip-compressed
	LinkTypes []LinkType // in order of first appearance (interfaces, for pcapng)
	Snaplen   int        // snapshot length from the file header (0 if unknown)
	// Files describes each file of a merged capture (MergeSource), in the
	// order given; nil for one file or a live capture.
	Files []FileInfo
}
