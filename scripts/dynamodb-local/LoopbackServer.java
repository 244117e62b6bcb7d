// Starts DynamoDB Local bound to one address (127.0.0.1 unless -Dddb2pg.host
// says otherwise). DynamoDB Local 1.25 has no bind option: it hands its port
// to Jetty, which then listens on every interface. Test servers must listen
// on loopback only, so this launcher builds the server exactly as
// DynamoDB Local's own main does (same arguments) and sets the host on its
// Jetty connector before starting it.
//
// Compiled by scripts/install-deps.sh against the cached DynamoDBLocal.jar.

import com.amazonaws.services.dynamodbv2.local.main.ServerRunner;
import com.amazonaws.services.dynamodbv2.local.server.DynamoDBProxyServer;
import java.lang.reflect.Field;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;

public final class LoopbackServer {
    public static void main(String[] args) throws Exception {
        String host = System.getProperty("ddb2pg.host", "127.0.0.1");
        DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
        Field f = DynamoDBProxyServer.class.getDeclaredField("server");
        f.setAccessible(true);
        Server jetty = (Server) f.get(proxy);
        int bound = 0;
        for (Connector c : jetty.getConnectors()) {
            if (c instanceof ServerConnector) {
                ((ServerConnector) c).setHost(host);
                bound++;
            }
        }
        if (bound == 0) {
            throw new IllegalStateException("DynamoDB Local's Jetty server has no ServerConnector to bind to " + host);
        }
        proxy.start();
        System.out.println("DynamoDB Local listening on " + host);
    }
}
