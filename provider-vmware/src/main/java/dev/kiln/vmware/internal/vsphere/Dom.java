package dev.kiln.vmware.internal.vsphere;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import javax.xml.XMLConstants;
import javax.xml.parsers.DocumentBuilder;
import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.parsers.ParserConfigurationException;
import org.w3c.dom.Attr;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NamedNodeMap;
import org.w3c.dom.Node;
import org.xml.sax.SAXException;

/**
 * Namespace-aware DOM reading and writing for SOAP bodies, with DTDs and external entities switched
 * off.
 */
final class Dom {
  static final String XSI = XMLConstants.W3C_XML_SCHEMA_INSTANCE_NS_URI;
  static final String XSD = XMLConstants.W3C_XML_SCHEMA_NS_URI;
  static final String VIM = "urn:vim25";

  private static final DocumentBuilderFactory FACTORY = factory();

  private Dom() {}

  private static DocumentBuilderFactory factory() {
    try {
      DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
      f.setNamespaceAware(true);
      f.setFeature(XMLConstants.FEATURE_SECURE_PROCESSING, true);
      f.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
      f.setFeature("http://xml.org/sax/features/external-general-entities", false);
      f.setFeature("http://xml.org/sax/features/external-parameter-entities", false);
      f.setXIncludeAware(false);
      f.setExpandEntityReferences(false);
      return f;
    } catch (ParserConfigurationException e) {
      throw new IllegalStateException(e);
    }
  }

  static Document parse(byte[] xml) throws IOException {
    try {
      DocumentBuilder b;
      synchronized (FACTORY) {
        b = FACTORY.newDocumentBuilder();
      }
      return b.parse(new ByteArrayInputStream(xml));
    } catch (ParserConfigurationException | SAXException e) {
      throw new VsphereException(null, "unreadable XML from the server: " + e.getMessage(), e);
    }
  }

  static Document newDocument() {
    try {
      synchronized (FACTORY) {
        return FACTORY.newDocumentBuilder().newDocument();
      }
    } catch (ParserConfigurationException e) {
      throw new IllegalStateException(e);
    }
  }

  static List<Element> children(Element e, String localName) {
    List<Element> out = new ArrayList<>();
    for (Node n = e.getFirstChild(); n != null; n = n.getNextSibling()) {
      if (n instanceof Element c && localName.equals(c.getLocalName())) {
        out.add(c);
      }
    }
    return out;
  }

  static List<Element> children(Element e) {
    List<Element> out = new ArrayList<>();
    for (Node n = e.getFirstChild(); n != null; n = n.getNextSibling()) {
      if (n instanceof Element c) {
        out.add(c);
      }
    }
    return out;
  }

  static Optional<Element> child(Element e, String localName) {
    for (Node n = e.getFirstChild(); n != null; n = n.getNextSibling()) {
      if (n instanceof Element c && localName.equals(c.getLocalName())) {
        return Optional.of(c);
      }
    }
    return Optional.empty();
  }

  static Optional<String> text(Element e, String localName) {
    return child(e, localName).map(Node::getTextContent);
  }

  /** The element's {@code xsi:type}, without a namespace prefix; empty if it has none. */
  static String xsiType(Element e) {
    String t = e.getAttributeNS(XSI, "type");
    int colon = t.indexOf(':');
    return colon < 0 ? t : t.substring(colon + 1);
  }

  static ManagedObject moref(Element e) {
    return new ManagedObject(e.getAttribute("type"), e.getTextContent().strip());
  }

  /**
   * Writes {@code e}'s children as vim25 XML in the default namespace, as the body of an element
   * that the caller opens and closes. {@code e} comes from {@link #detach}, so its {@code xsi:type}
   * values are already in the envelope's terms.
   */
  static void writeChildren(Element e, StringBuilder out) {
    for (Node n = e.getFirstChild(); n != null; n = n.getNextSibling()) {
      if (n instanceof Element c) {
        writeElement(c, out);
      } else if (n.getNodeType() == Node.TEXT_NODE || n.getNodeType() == Node.CDATA_SECTION_NODE) {
        escape(n.getNodeValue(), out);
      }
    }
  }

  static void writeElement(Element e, StringBuilder out) {
    String name = e.getLocalName();
    out.append('<').append(name);
    NamedNodeMap attrs = e.getAttributes();
    for (int i = 0; i < attrs.getLength(); i++) {
      Attr a = (Attr) attrs.item(i);
      if ("http://www.w3.org/2000/xmlns/".equals(a.getNamespaceURI())) {
        continue; // namespace declarations are the envelope's
      }
      if (XSI.equals(a.getNamespaceURI()) && "type".equals(a.getLocalName())) {
        out.append(" xsi:type=\"");
        escape(a.getValue(), out);
        out.append('"');
      } else if (a.getNamespaceURI() == null) {
        out.append(' ').append(a.getName()).append("=\"");
        escape(a.getValue(), out);
        out.append('"');
      }
    }
    out.append('>');
    writeChildren(e, out);
    out.append("</").append(name).append('>');
  }

  /**
   * A deep copy of {@code e} in a document of its own. {@code xsi:type} values are first rewritten
   * to the prefixes the request envelope declares ({@code xsd:} for XML Schema types, none for
   * vim25 types), because the namespace declarations they depend on stay behind on the response's
   * envelope.
   */
  static Element detach(Element e) {
    normalizeTypes(e);
    Document own = newDocument();
    Element copy = (Element) own.importNode(e, true);
    own.appendChild(copy);
    return copy;
  }

  private static void normalizeTypes(Element e) {
    String t = e.getAttributeNS(XSI, "type");
    int colon = t.indexOf(':');
    if (colon >= 0) {
      String ns = e.lookupNamespaceURI(t.substring(0, colon));
      String local = t.substring(colon + 1);
      if (XSD.equals(ns)) {
        e.setAttributeNS(XSI, "xsi:type", "xsd:" + local);
      } else if (VIM.equals(ns)) {
        e.setAttributeNS(XSI, "xsi:type", local);
      } // an undeclared prefix was normalised before (xsd:) or is left as the server wrote it
    }
    for (Element c : children(e)) {
      normalizeTypes(c);
    }
  }

  static void escape(String s, StringBuilder out) {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '&' -> out.append("&amp;");
        case '<' -> out.append("&lt;");
        case '>' -> out.append("&gt;");
        case '"' -> out.append("&quot;");
        case '\r' -> out.append("&#13;");
        default -> out.append(c);
      }
    }
  }

  static String escape(String s) {
    StringBuilder sb = new StringBuilder(s.length() + 16);
    escape(s, sb);
    return sb.toString();
  }
}
