//go:build !trailseal_pkgconfig && !trailseal_shared

package trailseal

// The static library of the repository's debug build; CGO_LDFLAGS="-L<dir>" (searched first)
// selects another build. The system libraries are what the Rust static library needs
// (rustc --print native-static-libs).

// #cgo CFLAGS: -I${SRCDIR}/../include
// #cgo LDFLAGS: -L${SRCDIR}/../../target/debug -l:libtrailseal.a -lgcc_s -lutil -lrt -lpthread -lm -ldl
import "C"
