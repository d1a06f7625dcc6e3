//! The HTTP routes, one module per resource, mirroring the URL tree of API.md.
