"""The central office's dashboard (issue 15): pages over the services' public HTTP APIs."""
