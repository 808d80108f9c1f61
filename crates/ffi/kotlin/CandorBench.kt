// The cost of crossing into Rust from Kotlin on the JVM (JNA): a counter
// add and a labeled counter add with consent granted, as an app records.
// Run with BENCH=1 PROFILE=release crates/ffi/kotlin/run.sh.

import java.nio.file.Files
import org.candor.Client
import org.candor.ClientOptions

// The Ed25519 base point: a valid public key; nothing is sealed in this benchmark.
const val KEY = """{"region": "eu", "algorithm": "ed25519", "public_key": "5866666666666666666666666666666666666666666666666666666666666666"}"""

/** Median of `rounds` rounds of `n` calls, ns per call. */
fun median(n: Int, rounds: Int, call: () -> Unit): Double {
    val perCall = (1..rounds).map {
        val t0 = System.nanoTime()
        for (i in 0 until n) call()
        (System.nanoTime() - t0).toDouble() / n
    }.sorted()
    return perCall[rounds / 2]
}

fun main() {
    val root = System.getenv("CANDOR_ROOT") ?: "."
    val dir = Files.createTempDirectory("candor-bench").toFile()
    val client = Client.open(ClientOptions(
        dataDir = dir.path,
        schemaToml = java.io.File(root, "examples/browser.toml").readText(),
        signingKeyJson = KEY,
        persistIntervalSeconds = 0u,
    ))
    client.grant("usage")
    val tabs = client.counter("browser.tabs_opened")
    val opened = client.labeledCounter("app.opened")
    val camera = opened.label("camera")
    // Warm-up: JIT and JNA's method lookup.
    repeat(200_000) { tabs.add(1); opened.add("camera", 1) }
    val counter = median(200_000, 21) { tabs.add(1) }
    val labeled = median(200_000, 21) { opened.add("camera", 1) }
    val label = median(200_000, 21) { camera.add(1) }
    println("kotlin counter add: %.0f ns".format(counter))
    println("kotlin labeled counter add: %.0f ns".format(labeled))
    println("kotlin label handle add: %.0f ns".format(label))
    client.destroy()
    dir.deleteRecursively()
}
