"""Sandboxed runtimes for code a workspace brings along: ``seg.sandbox.node`` runs insert and
destination functions (hostile JavaScript from a pull request) in a locked-down Node.js process
for the delivery simulator."""
