"""The product toolsets: one module per product, each with ``register(catalog, deps)``.

``server.build_server`` imports the module of each enabled toolset (``server.TOOLSETS``) and
registers it on the catalog. Modules named ``_x`` are helpers of the toolsets in this package only.
"""
