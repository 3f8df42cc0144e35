"""The `styrkedja` command: one entry point for everything a person runs.

Each command lives in its own module and is added to the app in `main`; commands import the
package that does the work (devstack, kit, a service's capability) only when they run, so
`styrkedja --help` is fast and an image without the dev stack still has the ops commands.
"""
