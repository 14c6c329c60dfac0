// Package debugger serves eventrouter's live debugger page: a static
// shell of plain HTML, CSS and JavaScript embedded in the binary (no CDN,
// no build step) that reads the admin API with the admin token.
//
// The shell itself holds no data and loads without a token; it asks for
// the token, keeps it in the browser tab's sessionStorage and sends it as
// "Authorization: Bearer <token>" on every request to /admin/. The live
// stream (/admin/stream, Server-Sent Events) is read with fetch and a
// stream parser, because EventSource cannot send that header.
//
// [Register] mounts the page on an [admin.Server]: GET /debugger serves
// the page and GET /debugger/<file> its assets.
package debugger
