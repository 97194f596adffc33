import FuzzDriver
import FuzzTargets

runFuzzer { data, count in FuzzTarget.gguf.run(data, count) }
