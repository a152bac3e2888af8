package wire

// Op is a request's operation, the `op` field (SPEC.md section 4).
type Op string

// The operations of protocol version 1.
const (
	OpHello    Op = "hello"
	OpPing     Op = "ping"
	OpResize   Op = "resize"
	OpChecksum Op = "checksum"
	OpStats    Op = "stats"
	OpCancel   Op = "cancel"
	// OpChecksumFile and OpResizeFile are checksum and resize of a file whose descriptor is
	// passed with SCM_RIGHTS on the frame's first byte (SPEC.md section 5.7).
	OpChecksumFile Op = "checksum_file"
	OpResizeFile   Op = "resize_file"
	// OpProbe reads an image's header and says what it is (SPEC.md section 5.8).
	OpProbe Op = "probe"
)

// Base is the op whose fields and reply a *_file op shares (checksum, resize); other ops are
// their own base.
func (o Op) Base() Op {
	switch o {
	case OpChecksumFile:
		return OpChecksum
	case OpResizeFile:
		return OpResize
	}
	return o
}

// TakesFile reports whether the op's input is a passed file descriptor instead of a payload.
func (o Op) TakesFile() bool { return o == OpChecksumFile || o == OpResizeFile }

// ProtocolVersion is the protocol version this package speaks.
const ProtocolVersion = 1

// Header holds the fields common to every request (SPEC.md section 3.2).
type Header struct {
	// ID is chosen by the client, >= 1, unique among its requests in flight on a connection.
	ID uint64
	// Op is the operation.
	Op Op
	// TimeoutMs is the time budget in milliseconds (0 means already expired).
	TimeoutMs uint32
	// HasTimeout says whether timeout_ms is sent; without it the request has no deadline.
	HasTimeout bool
}

// OptBool is a boolean request field that may be absent, so that absent and false stay distinct
// (auto_orient defaults to true).
type OptBool uint8

// The states of an OptBool.
const (
	Unset OptBool = iota
	False
	True
)

// Of returns the OptBool holding v.
func Of(v bool) OptBool {
	if v {
		return True
	}
	return False
}

// HelloRequest is the body of a hello request (SPEC.md section 5.1).
type HelloRequest struct {
	// Versions are the protocol versions the client speaks; non-empty.
	Versions []uint64
	// Client is the client's name and version; omitted when empty.
	Client string
}

// ResizeRequest is the body of a resize request (SPEC.md section 5.3). Zero values (and Unset) are
// omitted on the wire, leaving the daemon's defaults in force.
type ResizeRequest struct {
	Image        []byte  // image: the encoded input
	Width        uint32  // width: box width, 0 unconstrained
	Height       uint32  // height: box height, 0 unconstrained
	Mode         string  // mode: fit, fill or exact
	Anchor       string  // anchor: the part that survives a fill crop
	Filter       string  // filter: the resampling kernel
	Format       string  // format: the output format
	Quality      uint32  // quality: 1..100 for JPEG and WebP
	AutoOrient   OptBool // auto_orient: apply the EXIF orientation (daemon default true)
	KeepICC      OptBool // keep_icc: keep pixels in their ICC profile and embed it
	KeepMetadata OptBool // keep_metadata: copy EXIF and XMP to the output
	Fast         OptBool // fast: shrink-on-load traded for speed (SPEC.md section 5.3)
	Enlarge      OptBool // enlarge: may the output be larger than the input (daemon default true)
	// Outputs, when non-nil, asks for several outputs from one decode (SPEC.md section 5.3.1);
	// the box fields above (Width to Quality, and Enlarge) must then be zero.
	Outputs []OutputRequest // outputs: 1 to MaxOutputs output boxes
}

// MaxOutputs is the most entries a resize request's outputs may hold (SPEC.md section 5.3.1).
const MaxOutputs = 8

// OutputRequest is one element of a resize request's outputs: the box fields of a single-output
// resize, with the same meaning. Zero values are omitted on the wire.
type OutputRequest struct {
	Width   uint32  // width: box width, 0 unconstrained
	Height  uint32  // height: box height, 0 unconstrained
	Mode    string  // mode: fit, fill or exact
	Anchor  string  // anchor: the part that survives a fill crop
	Filter  string  // filter: the resampling kernel
	Format  string  // format: the output format
	Quality uint32  // quality: 1..100 for JPEG and WebP
	Enlarge OptBool // enlarge: may the output be larger than the input (daemon default true)
}

// ProbeRequest is the body of a probe request (SPEC.md section 5.8). A zero Width or Height is
// omitted: with neither, the memory estimate is for a thumbnail of the input's own size.
type ProbeRequest struct {
	Image  []byte // image: the encoded input
	Width  uint32 // width: box width of the thumbnail the memory estimate is for
	Height uint32 // height: box height, likewise
}

// ChecksumRequest is the body of a checksum request (SPEC.md section 5.4).
type ChecksumRequest struct {
	Data       []byte   // data: the bytes to digest
	Algorithms []string // algorithms: non-empty, each at most once
}

// Request is any request: the header plus the body of its Op (the other bodies stay zero).
type Request struct {
	Header
	Hello    HelloRequest    // the body when Op is hello
	Resize   ResizeRequest   // the body when Op is resize
	Checksum ChecksumRequest // the body when Op is checksum
	Probe    ProbeRequest    // the body when Op is probe
}

// Reply is any reply: the common fields (SPEC.md section 3.3) plus the result of the op it
// answers. Hello and Stats are allocated only when their fields are decoded.
type Reply struct {
	ID      uint64 // id: the request answered; 0 when its id could not be read
	OK      bool   // ok: true for a result, false for an error
	Code    uint64 // code: the error code when !OK
	Message string // message: the error's detail when !OK

	Hello    *HelloReply   // the result of hello
	Resize   ResizeReply   // the result of resize
	Checksum ChecksumReply // the result of checksum
	Stats    *StatsReply   // the result of stats
	Probe    *ProbeReply   // the result of probe
}

// ProbeReply is the result of probe (SPEC.md section 5.8).
type ProbeReply struct {
	Format      string // format: detected input format
	Width       uint32 // width: after EXIF orientation
	Height      uint32 // height: after EXIF orientation
	Orientation uint64 // orientation: the EXIF tag, 1 to 8
	Alpha       bool   // alpha: the header declares alpha or transparency
	ICC         bool   // icc: an ICC profile is embedded
	Progressive bool   // progressive: progressive JPEG, interlaced PNG or GIF
	Frames      uint64 // frames: frames in the file
	Memory      uint64 // memory: what a resize into the probe's box would reserve
}

// HelloReply is the result of hello: the daemon's limits and capabilities (SPEC.md section 5.1).
type HelloReply struct {
	Version       uint64   // version: the protocol version chosen
	Server        string   // server: daemon name and version
	MaxFrame      uint64   // max_frame: largest accepted body length
	MaxPixels     uint64   // max_pixels: largest accepted input image, width x height
	MaxDimension  uint64   // max_dimension: largest input side and box side
	Ops           []string // ops: operations served
	InputFormats  []string // input_formats: formats resize decodes
	OutputFormats []string // output_formats: formats resize encodes
	Modes         []string // modes: resize modes
	Filters       []string // filters: resampling filters
	Algorithms    []string // algorithms: checksum algorithms
	Workers       uint64   // workers: size of the CPU pool
	QueueJobs     uint64   // queue_jobs: jobs held before busy
	QueueBytes    uint64   // queue_bytes: payload bytes held before busy
	// The keys below were added to protocol v1 later; an older daemon sends none (zero here).
	MemoryBudget   uint64 // memory_budget: bytes the daemon lets everything it holds use
	MaxConnections uint64 // max_connections: connections served at once
	MaxQueueWaitMs uint64 // max_queue_wait_ms: longest expected queue wait before busy
	MaxOutputs     uint64 // max_outputs: most outputs one resize may ask for
}

// ResizeReply is the result of resize (SPEC.md section 5.3). A reply to a request with outputs
// carries Outputs (non-nil) and no Image, Width, Height or Format.
type ResizeReply struct {
	Image        []byte        // image: the encoded output
	Width        uint32        // width: output width
	Height       uint32        // height: output height
	Format       string        // format: output format
	Outputs      []OutputReply // outputs: one per requested output, in request order
	SourceWidth  uint32        // source_width: input width after orientation
	SourceHeight uint32        // source_height: input height after orientation
	SourceFormat string        // source_format: detected input format
}

// OutputReply is one element of a resize reply's outputs.
type OutputReply struct {
	Image  []byte // image: the encoded output
	Width  uint32 // width: output width
	Height uint32 // height: output height
	Format string // format: output format
}

// Digest is one entry of a checksum reply's digests map.
type Digest struct {
	Algorithm string // the map key
	Sum       []byte // the digest bytes
}

// ChecksumReply is the result of checksum (SPEC.md section 5.4).
type ChecksumReply struct {
	Digests []Digest // digests, in the order the daemon sent them
}

// OpCount is one entry of the stats reply's requests_by_op map.
type OpCount struct {
	Op    string // the map key
	Count uint64 // requests answered for Op
}

// StatsReply is the result of stats (SPEC.md section 5.5).
type StatsReply struct {
	Server        string    // server: daemon name and version
	UptimeMs      uint64    // uptime_ms: milliseconds since start
	Connections   uint64    // connections: open now
	JobsRunning   uint64    // jobs_running: executing now
	JobsQueued    uint64    // jobs_queued: admitted and waiting now
	QueuedBytes   uint64    // queued_bytes: payload held by admitted jobs now
	RequestsTotal uint64    // requests_total: answered since start
	ErrorsTotal   uint64    // errors_total: error replies since start
	BusyTotal     uint64    // busy_total: busy replies since start
	RequestsByOp  []OpCount // requests_by_op: answered per op, in the daemon's order
	Workers       uint64    // workers: size of the CPU pool
	// The keys below were added to protocol v1 later; an older daemon sends none (zero here).
	MemoryBudget       uint64 // memory_budget: bytes the daemon lets everything it holds use
	MemoryUsed         uint64 // memory_used: bytes held now against the budget
	ConnectionsRefused uint64 // connections_refused: connection-limit and peer refusals since start
}
