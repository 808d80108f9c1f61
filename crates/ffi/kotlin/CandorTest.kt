// The Kotlin bindings on the JVM against a real `candor serve`: consent,
// every metric type, day end, upload through a host uploader written in
// Kotlin (HttpURLConnection) and through the built-in one, the counts in
// a release; private mode records nothing; revoking purges the queue;
// errors are exceptions with stable codes. Run by run.sh (and .ci/run).

import java.io.File
import java.net.HttpURLConnection
import java.net.ServerSocket
import java.net.URI
import java.nio.file.Files
import java.time.LocalDate
import java.time.ZoneOffset
import org.candor.CandorException
import org.candor.Client
import org.candor.ClientOptions
import org.candor.HostException
import org.candor.HostUploader
import org.candor.KeyListOutcome
import org.candor.ReportOutcome
import org.candor.UploadOutcome

// A group is released only when its noisy contributor count (Laplace,
// scale 16) reaches eu's k_min = 10: 150 devices make a suppression rare
// (about once in 12,000 runs).
const val DEVICES = 150

val root: File = File(System.getenv("CANDOR_ROOT") ?: ".").canonicalFile
val candorBin: String = System.getenv("CANDOR_BIN") ?: error("set CANDOR_BIN to the debug candor binary")
val schemaToml: String = File(root, "examples/browser.toml").readText()
val today: String = LocalDate.now(ZoneOffset.UTC).toString()

fun check(condition: Boolean, message: () -> String) {
    if (!condition) throw AssertionError(message())
}

/** A small JSON reader (the JDK has none): maps, lists, strings, numbers, booleans, null. */
class Json(private val s: String) {
    private var i = 0
    fun parse(): Any? { val v = value(); ws(); check(i == s.length) { "trailing JSON at $i" }; return v }
    private fun ws() { while (i < s.length && s[i].isWhitespace()) i++ }
    private fun value(): Any? {
        ws()
        return when (s[i]) {
            '{' -> { i++; val m = LinkedHashMap<String, Any?>(); ws()
                if (s[i] == '}') { i++; return m }
                while (true) { ws(); val k = str(); ws(); i++ /* : */; m[k] = value(); ws()
                    if (s[i++] == '}') return m } ; @Suppress("UNREACHABLE_CODE") m }
            '[' -> { i++; val l = ArrayList<Any?>(); ws()
                if (s[i] == ']') { i++; return l }
                while (true) { l.add(value()); ws(); if (s[i++] == ']') return l }; @Suppress("UNREACHABLE_CODE") l }
            '"' -> str()
            't' -> { i += 4; true }
            'f' -> { i += 5; false }
            'n' -> { i += 4; null }
            else -> { val start = i; while (i < s.length && (s[i].isDigit() || s[i] in "+-.eE")) i++
                s.substring(start, i).toDouble() }
        }
    }
    private fun str(): String {
        val b = StringBuilder(); i++
        while (s[i] != '"') {
            if (s[i] == '\\') { i++; when (s[i]) {
                'n' -> b.append('\n'); 't' -> b.append('\t'); 'r' -> b.append('\r')
                'b' -> b.append('\b'); 'f' -> b.append('\u000c')
                'u' -> { b.append(s.substring(i + 1, i + 5).toInt(16).toChar()); i += 4 }
                else -> b.append(s[i]) } } else b.append(s[i])
            i++
        }
        i++
        return b.toString()
    }
}

@Suppress("UNCHECKED_CAST") fun obj(v: Any?) = v as Map<String, Any?>
@Suppress("UNCHECKED_CAST") fun arr(v: Any?) = v as List<Any?>
fun json(text: String) = Json(text).parse()

fun run(vararg args: String): String {
    val p = ProcessBuilder(candorBin, *args).redirectError(ProcessBuilder.Redirect.PIPE).start()
    val out = p.inputStream.readBytes().toString(Charsets.UTF_8)
    val err = p.errorStream.readBytes().toString(Charsets.UTF_8)
    check(p.waitFor() == 0) { "candor ${args.joinToString(" ")}: $err" }
    return out
}

/** A `candor serve`; with `days`, on a clock that many days ahead (libfaketime). */
class Server(val data: File) {
    val port = ServerSocket(0).use { it.localPort }
    val url = "http://127.0.0.1:$port"
    private var proc: Process? = null

    fun start(days: Int = 0): Server {
        val cmd = mutableListOf(candorBin, "serve", "--listen", "127.0.0.1:$port", "--data-dir", data.path)
        val pb = ProcessBuilder()
        if (days > 0) {
            cmd.addAll(0, listOf("faketime", "-f", "+${days}d"))
            pb.environment()["FAKETIME_DONT_FAKE_MONOTONIC"] = "1"
        }
        proc = pb.command(cmd).redirectOutput(ProcessBuilder.Redirect.DISCARD)
            .redirectError(ProcessBuilder.Redirect.DISCARD).start()
        val deadline = System.nanoTime() + 30_000_000_000L
        while (System.nanoTime() < deadline) {
            try { if (status("/readyz") == 200) return this } catch (_: java.io.IOException) {}
            Thread.sleep(100)
        }
        stop()
        throw AssertionError("candor serve did not become ready")
    }

    fun stop() {
        proc?.let { it.destroy(); it.waitFor() } // SIGTERM: a clean shutdown
        proc = null
    }

    private fun status(path: String): Int =
        (URI("$url$path").toURL().openConnection() as HttpURLConnection).run { connectTimeout = 2000; responseCode }

    fun get(path: String): String = URI("$url$path").toURL().readText()

    fun signingKey(): String = data.walk().filter { it.name == "signing.public.json" }
        .map { it.readText() }.first { obj(json(it))["region"] == "eu" }
}

/** A host uploader on the JVM's own HTTP stack. */
class JvmUploader(private val base: String) : HostUploader {
    override fun upload(region: String, body: ByteArray): UploadOutcome {
        val c = URI("$base/v1/regions/$region/reports").toURL().openConnection() as HttpURLConnection
        return try {
            c.requestMethod = "POST"
            c.doOutput = true
            c.setRequestProperty("content-type", "application/vnd.candor.report")
            c.outputStream.use { it.write(body) }
            val code = c.responseCode
            when {
                code in 200..299 -> {
                    val answer = obj(json(c.inputStream.readBytes().toString(Charsets.UTF_8)))
                    UploadOutcome.Results(arr(answer["results"]).map {
                        val item = obj(it)
                        when (item["status"]) {
                            "accepted" -> ReportOutcome.Accepted
                            "duplicate" -> ReportOutcome.Duplicate
                            "queued" -> ReportOutcome.Queued
                            else -> ReportOutcome.Rejected((item["code"] ?: item["status"]).toString())
                        }
                    })
                }
                code == 408 || code == 429 || code >= 500 ->
                    UploadOutcome.RetryLater(c.getHeaderField("retry-after")?.toULongOrNull())
                else -> UploadOutcome.Rejected("http_$code")
            }
        } catch (e: java.io.IOException) {
            UploadOutcome.RetryLater(null)
        } finally {
            c.disconnect()
        }
    }

    override fun fetchKeyList(region: String): KeyListOutcome = try {
        KeyListOutcome.Fetched(URI("$base/v1/regions/$region/keys").toURL().readBytes())
    } catch (e: java.io.IOException) {
        KeyListOutcome.RetryLater
    }
}

/** A host whose network code throws: offline, never a crash. */
class Broken : HostUploader {
    override fun upload(region: String, body: ByteArray): UploadOutcome = throw IllegalStateException("no network")
    override fun fetchKeyList(region: String): KeyListOutcome = throw HostException.Failed("no network")
}

fun options(dir: File, signingKey: String, keyList: String? = null, collector: String? = null) = ClientOptions(
    dataDir = dir.path,
    schemaToml = schemaToml,
    signingKeyJson = signingKey,
    keyListJson = keyList,
    dimensions = mapOf("platform" to "android"),
    collectorUrl = collector,
    persistIntervalSeconds = 0u,
)

fun recordEverything(client: Client) {
    client.counter("browser.tabs_opened").add(3)
    client.labeledCounter("app.opened").add("camera", 2)
    client.boolean("settings.dark_mode").set(true)
    client.category("settings.text_size").set("large")
    client.distribution("browser.session_minutes").accumulate(10)
    client.domainSet("browser.slow_domains").recordUrl("https://www.news.example.co.uk/a?b=c")
    client.activity("app.active").active()
}

fun purposes(client: Client) = client.pendingReports().map { obj(json(it))["purpose"] as String }.sorted()

/** The released value is the truth within three half-widths of the published 95% interval
 *  (the interval itself misses one run in 20 by design; three half-widths, one in 8,000). */
fun within(answer: Map<String, Any?>, cell: String?, truth: Double) {
    check(answer["suppressed"] == 0.0) { "suppressed: $answer" }
    val groups = arr(answer["groups"]).map { obj(it) }.filter { cell == null || it["cell"] == cell }
    check(groups.size == 1) { "one group: $answer" }
    val (low, high) = arr(groups[0]["ci95"]).map { it as Double }
    val value = groups[0]["value"] as Double
    check(Math.abs(value - truth) <= 1.5 * (high - low)) { "$value vs truth $truth, interval $low..$high" }
}

fun query(server: Server, token: String, metric: String) = obj(json(run(
    "query", "--url", server.url, "--token", token, "--region", "eu", "--metric", metric,
    "--from", today, "--to", today, "--json")))

fun scenario(tmp: File) {
    val server = Server(File(tmp, "collector")).start()
    try {
        val signingKey = server.signingKey()
        val keyList = server.get("/v1/regions/eu/keys")
        val clients = (0 until DEVICES).map { i ->
            val dir = File(tmp, "device-$i")
            if (i % 2 == 1) Client.openWithUploader(options(dir, signingKey, keyList), JvmUploader(server.url))
            else Client.open(options(dir, signingKey, collector = server.url)).also {
                // The first pass fetches the key list (nothing is queued yet).
                check(it.upload().requests == 0uL) { "nothing to send" }
            }
        }
        for (client in clients) {
            client.counter("browser.tabs_opened").add(100) // before consent: never counted
            val receipt = client.grant("usage")
            check(receipt.granted && receipt.purpose == "usage") { "$receipt" }
            client.grant("browsing")
            check(client.consentStatus()["usage"]!!.collecting) { "collecting" }
            recordEverything(client)
            client.endDay()
        }
        for (client in clients) {
            val summary = client.upload()
            check(summary.accepted == 2uL && summary.remaining == 0uL && summary.rejected == 0uL) { "$summary" }
            val sent = client.sentReports(7u).map { obj(json(it)) }
            check(sent.map { it["purpose"] }.toSet() == setOf("usage", "browsing")) { "$sent" }
            val usage = sent.first { it["purpose"] == "usage" }
            check(obj(obj(usage["metrics"])["browser.tabs_opened"])["value"] == 3.0) { "$usage" }
            client.destroy()
        }
        server.stop()
        val token = run("token", "create", "--name", "kt", "--data-dir", server.data.path,
            "--role", "analyst", "--regions", "eu", "--purposes", "usage").trim()
        server.start(days = 5)
        within(query(server, token, "browser.tabs_opened"), null, 3.0 * DEVICES)
        within(query(server, token, "app.opened"), "camera", 2.0 * DEVICES)
    } finally {
        server.stop()
    }
}

fun privateMode(tmp: File, signingKey: String) {
    val client = Client.open(options(File(tmp, "private"), signingKey))
    client.grant("usage"); client.grant("browsing")
    client.setPrivateMode(true)
    recordEverything(client)
    client.setPrivateMode(false)
    client.counter("browser.tabs_opened").private(true).add(5)
    client.endDay()
    check(client.pendingReports().isEmpty()) { "private mode recorded: ${client.pendingReports()}" }
}

fun revokePurges(tmp: File, signingKey: String, keyList: String) {
    val client = Client.open(options(File(tmp, "revoke"), signingKey, keyList))
    client.grant("usage"); client.grant("browsing")
    recordEverything(client)
    client.endDay()
    check(purposes(client) == listOf("browsing", "usage")) { "${purposes(client)}" }
    check(!client.revoke("usage").granted) { "a revocation receipt" }
    check(purposes(client) == listOf("browsing")) { "${purposes(client)}" }
    client.revoke("browsing")
    check(client.pendingReports().isEmpty()) { "purged" }
}

fun errors(tmp: File, signingKey: String, keyList: String) {
    try {
        Client.open(options(File(tmp, "bad"), "not a key"))
        throw AssertionError("a bad key opened")
    } catch (e: CandorException.Key) {
        check(e.code == "invalid_key") { e.code }
    }
    val client = Client.openWithUploader(options(File(tmp, "errors"), signingKey, keyList), Broken())
    try {
        client.grant("ads")
        throw AssertionError("an unknown purpose was granted")
    } catch (e: CandorException.Consent) {
        check(e.code == "unknown_purpose") { e.code }
    }
    client.grant("usage")
    client.counter("browser.tabs_opened").add(-1) // counted, never thrown
    client.labeledCounter("app.opened").add("no-such-label", 1)
    val counts = client.errorCounts()
    check(counts["browser.tabs_opened"]?.get("negative_value") == 1uL) { "$counts" }
    client.counter("browser.tabs_opened").add(1)
    client.endDay()
    val summary = client.upload() // the host throws: offline, backing off
    check(summary.accepted == 0uL && summary.remaining == 1uL && summary.retryAt != null) { "$summary" }
}

fun threads(tmp: File, signingKey: String, keyList: String) {
    val client = Client.open(options(File(tmp, "threads"), signingKey, keyList))
    client.grant("usage")
    val tabs = client.counter("browser.tabs_opened")
    (1..8).map { Thread { repeat(50) { tabs.add(1) } }.apply { start() } }.forEach { it.join() }
    client.endDay()
    val report = obj(json(client.pendingReports().single()))
    check(obj(obj(report["metrics"])["browser.tabs_opened"])["value"] == 400.0) { "$report" }
}

fun main() {
    val tmp = Files.createTempDirectory("candor-kotlin").toFile()
    val tests = mutableListOf<Pair<String, () -> Unit>>()
    tests += "scenario: consent, every type, day end, upload, release" to { scenario(File(tmp, "scenario")) }
    val server = Server(File(tmp, "small")).start()
    try {
        val key = server.signingKey()
        val list = server.get("/v1/regions/eu/keys")
        tests += "private mode records nothing" to { privateMode(tmp, key) }
        tests += "revoke purges the queue" to { revokePurges(tmp, key, list) }
        tests += "errors are exceptions with stable codes; recording never throws" to { errors(tmp, key, list) }
        tests += "handles are shared across threads" to { threads(tmp, key, list) }
        var failed = 0
        for ((name, test) in tests) {
            try {
                test(); println("ok   $name")
            } catch (e: Throwable) {
                failed++; println("FAIL $name: $e"); e.printStackTrace()
            }
        }
        println("${tests.size - failed} passed, $failed failed")
        if (failed > 0) kotlin.system.exitProcess(1)
    } finally {
        server.stop()
        tmp.deleteRecursively()
    }
}
