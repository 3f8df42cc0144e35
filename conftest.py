pytest_plugins = ["styrkedja_devstack.pytest_plugin"]
