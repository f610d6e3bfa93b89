//go:build trailseal_pkgconfig && !trailseal_shared

package trailseal

// The installed static library (bash ffi/install.sh PREFIX), found with pkg-config.

// #cgo pkg-config: trailseal-static
import "C"
