"""The chain page: organiser → school units → groups, share reaching the pass level per subject."""
