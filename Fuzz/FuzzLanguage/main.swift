import FuzzDriver
import FuzzTargets

runFuzzer { data, count in FuzzTarget.language.run(data, count) }
