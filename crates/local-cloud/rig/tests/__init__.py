"""The rig's tests: one module per patch (test_<patch>.py) and one for the models, each showing
the behaviour it fixes with moto in-process (mock_aws). Run them with crates/local-cloud/rig/test."""
