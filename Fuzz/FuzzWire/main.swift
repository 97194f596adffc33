import FuzzDriver
import FuzzTargets

runFuzzer { data, count in FuzzTarget.wire.run(data, count) }
