"""Read models: each projection is a pure function of the log, fed by the NATS projector or by replay."""
